// The GraphQL over HTTP audit: every one of graphql-http's `serverAudits` (the reference
// checks of the GraphQL-over-HTTP specification, requests with `application/json` and
// with `application/graphql-response+json`, over POST and GET) against the running
// service's /graphql, authenticated as the admin. Prints the counts and every audit that
// did not pass with its reason; exits 1 on any error, warning or notice.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { serverAudits } from 'graphql-http';
import { service } from './lib/service.mjs';

const { graphqlUrl, authorization } = service();

// The audits send their own headers; the token rides along on every request.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', authorization);
  return fetch(input, { ...init, headers });
};

const results = [];
for (const audit of serverAudits({ url: graphqlUrl, fetchFn })) {
  try {
    results.push(await audit.fn());
  } catch (error) {
    // An audit throws only when it could not run at all.
    results.push({ id: audit.id, name: audit.name, status: 'error', reason: `threw: ${error}` });
  }
}

const count = (status) => results.filter((r) => r.status === status).length;
const summary = {
  total: results.length,
  passed: count('ok'),
  errors: count('error'),
  warnings: count('warn'),
  notices: count('notice'),
};
for (const r of results.filter((r) => r.status !== 'ok')) {
  console.log(`${r.status.toUpperCase().padEnd(6)} [${r.id}] ${r.name}\n         ${r.reason}`);
}
console.log(
  `graphql-http audit: ${summary.passed} of ${summary.total} passed, ${summary.errors} errors, ` +
    `${summary.warnings} warnings, ${summary.notices} notices`,
);

const out = resolve(import.meta.dirname, 'test-results');
mkdirSync(out, { recursive: true });
writeFileSync(
  resolve(out, 'audit.json'),
  JSON.stringify(
    {
      summary,
      results: results.map(({ id, name, status, reason }) => ({ id, name, status, reason })),
    },
    null,
    2,
  ),
);
process.exitCode = summary.passed === summary.total ? 0 : 1;
