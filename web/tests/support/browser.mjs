// Debian's Chromium driven by playwright-core, for the browser tests: every request the
// browser makes is recorded, and anything not addressed to one of the given service
// origins is refused (and asserted absent by `assertOnlyTheServices`). Screenshots
// (`shot`, `narrowShot` at 375 px) land in web/test-results/; `accessible` runs axe-core.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const RESULTS = resolve(import.meta.dirname, '../../test-results');
export const TIMEOUT = 20_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CDN = /unpkg\.com|jsdelivr\.net|cdnjs|googleapis|gstatic|esm\.sh|skypack/;
/** axe-core, run in the page through the DevTools protocol (not a script tag: the CSP stays). */
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

mkdirSync(RESULTS, { recursive: true });

/**
 * A browser with one page whose network is the services at `origins` and nothing else.
 * The arrays it returns fill up as the page works: `requests` (every URL), `refused`
 * (requests elsewhere), `problems` (page errors, CSP violations), `wsFrames` ({dir,
 * data} on sockets), `graphqlBodies` (the JSON of every POST /graphql), `graphqlExchanges`
 * (the same bodies as {body, status, answer}: the answer's JSON once it has arrived, which
 * may be after the page has used it), `assetCaching` (/assets/ URL -> Cache-Control).
 */
export async function openBrowser(origins) {
  const allowed = [origins].flat();
  const requests = [];
  const refused = [];
  const problems = [];
  const wsFrames = [];
  const graphqlBodies = [];
  const graphqlExchanges = [];
  const pendingAnswers = new WeakMap(); // playwright Request -> its entry in graphqlExchanges
  const assetCaching = new Map();

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed.some((origin) => url.startsWith(`${origin}/`))) return route.continue();
    refused.push(url);
    return route.abort('blockedbyclient');
  });
  context.on('request', (request) => {
    requests.push(request.url());
    if (/\/graphql$/.test(request.url()) && request.method() === 'POST') {
      const type = request.headers()['content-type'] ?? '';
      if (type.startsWith('application/json')) {
        const exchange = { body: JSON.parse(request.postData()), status: null, answer: null };
        graphqlBodies.push(exchange.body);
        graphqlExchanges.push(exchange);
        pendingAnswers.set(request, exchange);
      }
    }
  });
  context.on('response', (response) => {
    const exchange = pendingAnswers.get(response.request());
    if (exchange) {
      exchange.status = response.status();
      response.json().then(
        (answer) => (exchange.answer = answer),
        // The page went away before the body was read: the test cannot look at it.
        () => {},
      );
    }
    if (allowed.some((origin) => response.url().startsWith(`${origin}/assets/`))) {
      assetCaching.set(response.url(), response.headers()['cache-control'] ?? '');
    }
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/.test(message.text()))
      problems.push(`CSP: ${message.text()}`);
  });
  page.on('websocket', (ws) => {
    requests.push(ws.url());
    ws.on('framesent', (frame) => wsFrames.push({ dir: 'sent', data: String(frame.payload) }));
    ws.on('framereceived', (frame) =>
      wsFrames.push({ dir: 'received', data: String(frame.payload) }),
    );
  });

  const shot = async (name, { fullPage = false } = {}) => {
    if (fullPage) await page.evaluate(() => window.scrollTo(0, 0)); // or the sticky header lands mid-page
    await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage });
  };

  /** axe-core finds no serious or critical accessibility violation on the page. */
  const accessible = async (name) => {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
    const { ran, violations } = await page.evaluate(async () => {
      const results = await window.axe.run(document, { resultTypes: ['violations'] });
      return {
        ran: results.passes.length,
        violations: results.violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map(
            (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
          ),
      };
    });
    assert.ok(ran > 10, `axe ran its rules on ${name}`);
    assert.deepEqual(violations, [], `accessibility of ${name}`);
  };

  /** The page at 375 px wide: a screenshot, and nothing wider than the screen; and axe. */
  const narrowShot = async (name) => {
    await accessible(name);
    await page.setViewportSize({ width: 375, height: 812 });
    try {
      await page.evaluate(() => window.scrollTo(0, 0)); // or the sticky header lands mid-page
      await page.screenshot({ path: join(RESULTS, `${name}-375.png`), fullPage: true });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      // What sticks out, to say so when the page is too wide.
      const culprits = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > 375.5)
          .slice(0, 5)
          .map((el) => `${el.tagName.toLowerCase()}.${el.className}`),
      );
      assert.ok(wide <= 375, `${name} at 375 px is ${wide} px wide: ${culprits.join(', ')}`);
    } finally {
      await page.setViewportSize({ width: 1024, height: 768 });
    }
  };

  /** No request left the services, and the pages ran under the CSP without errors. */
  const assertOnlyTheServices = () => {
    const home = allowed.flatMap((origin) => [`${origin}/`, `${origin.replace(/^http/, 'ws')}/`]);
    const elsewhere = requests.filter(
      (url) => !home.some((prefix) => url.startsWith(prefix)) && !/^(data|blob):/.test(url),
    );
    assert.deepEqual(elsewhere, [], 'every request went to the service');
    assert.deepEqual(refused, [], 'nothing was refused by the network filter');
    assert.deepEqual(
      requests.filter((url) => CDN.test(url)),
      [],
      'no CDN was asked',
    );
    assert.ok(assetCaching.size > 0, 'assets came from /assets/');
    for (const [url, cacheControl] of assetCaching) assert.match(cacheControl, /immutable/, url);
    assert.deepEqual(problems, []);
  };

  return {
    browser,
    context,
    page,
    requests,
    refused,
    problems,
    wsFrames,
    graphqlBodies,
    graphqlExchanges,
    assetCaching,
    shot,
    accessible,
    narrowShot,
    assertOnlyTheServices,
    close: () => browser.close().catch(() => {}),
  };
}

/** Polls `check` (sync or async) until it holds. */
export async function waitFor(check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${check}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}
