// `scripts/clients.sh schema-check`: schema.graphql on this branch against the last
// released schema. "Last released" is the schema.graphql of the newest git tag `v*`
// (version order) when there is one, else the committed snapshot
// clients/released-schema.graphql. Exits 1 on a breaking change not listed in
// clients/breaking-changes-accepted.txt.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkSchemas } from './lib/schema-check.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path) => readFileSync(resolve(ROOT, path), 'utf8');
const git = (...args) =>
  execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

function released() {
  let tag = '';
  try {
    tag = git('tag', '--list', 'v*', '--sort=-v:refname').split('\n')[0].trim();
  } catch {
    // not a git checkout: the snapshot decides
  }
  if (tag) return { from: `git tag ${tag}`, sdl: git('show', `${tag}:schema.graphql`) };
  return { from: 'clients/released-schema.graphql', sdl: read('clients/released-schema.graphql') };
}

const base = released();
const acceptedPath = 'clients/breaking-changes-accepted.txt';
const result = checkSchemas(
  base.sdl,
  read('schema.graphql'),
  existsSync(resolve(ROOT, acceptedPath)) ? read(acceptedPath) : '',
);

console.log(`schema check: schema.graphql against ${base.from}`);
for (const c of result.breaking) {
  console.log(
    c.accepted
      ? `  accepted  ${c.description} (${c.reason})`
      : `  BREAKING  ${c.description} [${c.type}]`,
  );
}
for (const c of result.dangerous) console.log(`  dangerous ${c.description} [${c.type}]`);
for (const d of result.stale) console.log(`  stale entry in ${acceptedPath}: ${d}`);
console.log(
  `schema check: ${result.breaking.length} breaking (${result.unaccepted.length} not accepted), ` +
    `${result.dangerous.length} dangerous`,
);
if (result.unaccepted.length > 0) {
  console.log(
    `A breaking change needs a line "<description> :: <reason>" in ${acceptedPath}, or a new release.`,
  );
  process.exitCode = 1;
}
