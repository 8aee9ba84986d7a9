// The browser side, end to end: the real service (zero-setup mode, offline AI provider)
// and Debian's Chromium driven by playwright-core. Every request the browser makes is
// recorded, and anything not addressed to the service is refused and fails the run.
// Screenshots land in web/test-results/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiClient } from './support/api.mjs';
import { openBrowser, RESULTS, TIMEOUT, waitFor } from './support/browser.mjs';
import { seedPng } from './support/png.mjs';
import { startService } from './support/service.mjs';

/** Seeded images: more than the feed's page of 20, so scrolling has a second page to load. */
const SEEDED = 25;
const FEED_PAGE = 20;
const SEEDED_COMMENTS = 12;

describe('browser', { timeout: 600_000 }, () => {
  let service;
  let graphql;
  let harness; // the browser, its page, and what the page asked for (support/browser.mjs)
  let context;
  let page;
  const seededIds = []; // oldest first
  let requests; // every URL the browser asked for
  let wsFrames; // { dir, data } on the subscription socket
  let graphqlBodies; // the JSON of every POST /graphql
  let graphqlExchanges; // the same, with the status and JSON answer of each

  const shot = (...args) => harness.shot(...args);
  const narrowShot = (...args) => harness.narrowShot(...args);
  /** Picks request bodies by operation name: a query sent by hash alone has no text. */
  const named = (name) => (body) => body.operationName === name;
  const hashOf = (body) => body.extensions?.persistedQuery?.sha256Hash;
  const sha256 = (text) => createHash('sha256').update(text).digest('hex');
  /** A body's query text: its own, or the text sent earlier with the same hash. */
  const textOf = (body) =>
    body.query ??
    graphqlBodies.find((other) => other.query && hashOf(other) === hashOf(body)).query;
  /** The exchange's answer, once its JSON has been read. */
  const answerOf = async (exchange) => {
    await waitFor(() => exchange.answer);
    return exchange.answer;
  };

  before(async () => {
    service = await startService({ logFile: join(RESULTS, 'service.log') });
    graphql = apiClient(service.origin, service.token);
    for (let n = 0; n < SEEDED; n++) {
      const base64 = `data:image/png;base64,${seedPng(n).toString('base64')}`;
      const data = await graphql(
        'mutation($b: String!) { uploadImage(input: {base64: $b, analyze: false}) { image { id } } }',
        { b: base64 },
      );
      seededIds.push(data.uploadImage.image.id);
    }
    harness = await openBrowser(service.origin);
    ({ context, page, requests, wsFrames, graphqlBodies, graphqlExchanges } = harness);
  });

  after(async () => {
    await harness?.close();
    await service?.stop();
  });

  test('GraphiQL is served by the service and runs { viewer { name } } with a token', async () => {
    const introspection = page.waitForResponse(
      (r) =>
        r.url() === `${service.origin}/graphql` &&
        (r.request().postData() ?? '').includes('IntrospectionQuery'),
    );
    const response = await page.goto(`${service.origin}/`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    // The headers tab is open: its editor is the one of the tools that is not hidden.
    const headersEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)');
    await headersEditor.locator('.CodeMirror').waitFor({ timeout: TIMEOUT });
    // It holds the Authorization preset, whose placeholder is not sent: the schema loads
    // anonymously.
    await page
      .getByText('paste the token printed at first start')
      .first()
      .waitFor({ timeout: TIMEOUT });
    const schema = await introspection;
    assert.equal(schema.status(), 200);
    assert.equal(schema.request().headers().authorization, undefined);

    // Paste the token over the preset.
    await headersEditor.locator('.CodeMirror').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${service.token}` }));

    await page.locator('.graphiql-query-editor .CodeMirror').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('{ viewer { name } }');
    await page.locator('.graphiql-execute-button').click();

    // The answer as the result pane shows it (CodeMirror keeps the text it displays).
    await page.locator('.result-window').getByText('"admin"').waitFor({ timeout: TIMEOUT });
    const shown = await page.evaluate(() =>
      document.querySelector('.result-window .CodeMirror').CodeMirror.getValue(),
    );
    assert.deepEqual(JSON.parse(shown), { data: { viewer: { name: 'admin' } } });
    await shot('graphiql');
  });

  test('GraphiQL subscriptions go over /graphql/ws with the same Authorization', async () => {
    await page.locator('.graphiql-query-editor .CodeMirror').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('subscription { analysisCompleted { id analysis { status } } }');
    await page.locator('.graphiql-execute-button').click();
    await waitFor(() =>
      wsFrames.some(
        (f) =>
          f.dir === 'sent' && f.data.includes('connection_init') && f.data.includes(service.token),
      ),
    );
    await waitFor(() =>
      wsFrames.some((f) => f.dir === 'received' && f.data.includes('connection_ack')),
    );
    await waitFor(() => wsFrames.some((f) => f.dir === 'sent' && f.data.includes('"subscribe"')));

    const data = await graphql(
      'mutation($b: String!) { uploadImage(input: {base64: $b}) { image { id } } }',
      {
        b: seedPng(300).toString('base64'),
      },
    );
    const { id } = data.uploadImage.image;
    await page.locator('.result-window').getByText(id).waitFor({ timeout: TIMEOUT });
    const shown = await page.evaluate(() =>
      document.querySelector('.result-window .CodeMirror').CodeMirror.getValue(),
    );
    assert.deepEqual(JSON.parse(shown), {
      data: { analysisCompleted: { id, analysis: { status: 'SUCCEEDED' } } },
    });
    await shot('graphiql-subscription');
    // Out of the way of the feed's counts below.
    await graphql('mutation($id: ID!) { deleteImage(input: {id: $id}) { deletedImageId } }', {
      id,
    });
  });

  test('sign-in refuses a bad token with a clear message, then accepts the real one', async () => {
    const response = await page.goto(`${service.origin}/app/`);
    assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    // Name and password come first; the token is the second way, folded away.
    await page.getByLabel('Name', { exact: true }).waitFor({ timeout: TIMEOUT });
    await page.getByText('Sign in with an API token instead').click();
    await page.getByLabel('API token').fill('igt_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in with token' }).click();
    await page
      .getByRole('alert')
      .getByText('Your token was not accepted')
      .waitFor({ timeout: TIMEOUT });
    await shot('sign-in-refused');

    await page.getByLabel('API token').fill(service.token);
    await page.getByRole('button', { name: 'Sign in with token' }).click();
    await page.locator('.viewer-name', { hasText: 'admin' }).waitFor({ timeout: TIMEOUT });
    // A pasted token is not the gallery's to revoke: no id is kept for it.
    assert.equal(await page.evaluate(() => localStorage.getItem('imagegraph.tokenId')), null);
  });

  test('the feed shows the first page, and scrolling loads the second with endCursor', async () => {
    const cards = page.locator('.grid .card');
    await cards.nth(FEED_PAGE - 1).waitFor({ timeout: TIMEOUT });
    // Thumbnails are signed media URLs on the service itself.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.card img')]
        .slice(0, 4)
        .every((img) => img.complete && img.naturalWidth > 0),
    );
    assert.equal(await cards.count(), FEED_PAGE);
    // Automatic Persisted Queries: the service has never seen the feed's query, so its
    // hash alone is answered PERSISTED_QUERY_NOT_FOUND, and the same request follows with
    // the text, which the service registers under that hash.
    const feedQueries = () => graphqlExchanges.filter(({ body }) => named('Feed')(body));
    assert.equal(feedQueries().length, 2);
    const [hashed, texted] = feedQueries();
    const feedHash = hashOf(hashed.body);
    assert.match(feedHash ?? '', /^[0-9a-f]{64}$/, 'the first Feed request carries a hash');
    assert.equal(hashed.body.query, undefined, 'and no text');
    assert.equal(hashed.body.variables.after ?? null, null);
    const miss = await answerOf(hashed);
    assert.equal(miss.data, undefined);
    assert.deepEqual(
      miss.errors.map((error) => error.extensions.code),
      ['PERSISTED_QUERY_NOT_FOUND'],
    );
    assert.match(texted.body.query, /^query Feed\b/);
    assert.equal(hashOf(texted.body), feedHash);
    assert.equal(sha256(texted.body.query), feedHash, 'the hash is the SHA-256 of the text');
    assert.deepEqual(texted.body.variables, hashed.body.variables);
    assert.equal((await answerOf(texted)).data.images.nodes.length, FEED_PAGE);
    // Page 2 holds the oldest images, not on screen yet.
    const oldest = seededIds.slice(0, SEEDED - FEED_PAGE);
    for (const id of oldest)
      assert.equal(await page.locator(`.card[data-image-id="${id}"]`).count(), 0);
    await shot('feed');

    await page.mouse.move(500, 500);
    for (let i = 0; i < 20 && (await cards.count()) < SEEDED; i++) {
      await page.mouse.wheel(0, 1500);
      await page.waitForTimeout(200);
    }
    for (const id of oldest)
      await page.locator(`.card[data-image-id="${id}"]`).waitFor({ timeout: TIMEOUT });
    assert.equal(await cards.count(), SEEDED);
    const second = feedQueries().find(({ body }) => body.variables.after);
    assert.ok(second, 'a Feed query with `after` was sent');
    // The next page is the same query: its hash alone is enough now.
    assert.equal(second.body.query, undefined, 'the second page is sent by hash alone');
    assert.equal(hashOf(second.body), feedHash);
    // The count is asked on the first page only: counting every match costs the
    // service more than the page on a large feed.
    assert.equal(hashed.body.variables.withCount, true);
    assert.equal((await answerOf(texted)).data.images.totalCount, SEEDED);
    assert.equal(second.body.variables.withCount, false);
    assert.equal('totalCount' in (await answerOf(second)).data.images, false);
    const page2 = await answerOf(second);
    assert.equal(page2.errors, undefined);
    assert.deepEqual(
      page2.data.images.nodes.map((image) => image.id),
      oldest.toReversed(),
      'the second page is answered by hash with the oldest images',
    );
    assert.equal(feedQueries().filter(({ body }) => body.query).length, 1, 'the text went once');
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.getByText('That is all of them.').waitFor({ timeout: TIMEOUT });
    await shot('feed-page-2');
  });

  let uploadedId;

  test('an upload appears in the feed and its analysis turns to done through the subscription', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    // The feed's subscription to every image's analysis is open before the upload.
    await waitFor(() =>
      wsFrames.some(
        (f) =>
          f.dir === 'sent' &&
          f.data.includes('"subscribe"') &&
          f.data.includes('subscription AnalysisCompleted'),
      ),
    );

    const uploaded = page.waitForResponse(
      (r) =>
        r.url() === `${service.origin}/graphql` &&
        (r.request().postData() ?? '').includes('uploadImage'),
    );
    await page.locator('input[type=file]').setInputFiles({
      name: 'sunset.png',
      mimeType: 'image/png',
      buffer: seedPng(100, 320, 240),
    });
    const answer = await (await uploaded).json();
    const image = answer.data.uploadImage.image;
    uploadedId = image.id;
    assert.notEqual(
      image.analysis.status,
      'SUCCEEDED',
      'the upload answers before its analysis is done',
    );

    const card = page.locator(`.card[data-image-id="${uploadedId}"]`);
    await card.waitFor({ timeout: TIMEOUT });
    assert.equal(
      await page.locator('.grid .card').first().getAttribute('data-image-id'),
      uploadedId,
    );
    await card.locator('.badge[data-status="SUCCEEDED"]').waitFor({ timeout: TIMEOUT });
    assert.ok(
      wsFrames.some(
        (f) => f.dir === 'received' && f.data.includes(uploadedId) && f.data.includes('SUCCEEDED'),
      ),
      'the SUCCEEDED status came over the WebSocket',
    );
    await page.locator('.upload-done .upload-name', { hasText: 'sunset.png' }).waitFor();
    await shot('upload-analysed');
  });

  test('a file dropped on the upload area is uploaded too', async () => {
    const bytes = [...seedPng(200, 200, 200)];
    const dataTransfer = await page.evaluateHandle((bytes) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
      return transfer;
    }, bytes);
    const count = await page.locator('.grid .card').count();
    await page.locator('.upload').dispatchEvent('drop', { dataTransfer });
    await page
      .locator('.upload-done .upload-name', { hasText: 'dropped.png' })
      .waitFor({ timeout: TIMEOUT });
    await waitFor(async () => (await page.locator('.grid .card').count()) === count + 1);
  });

  test('the image page shows the description, paginated comments, and a posted comment', async () => {
    for (let n = 1; n <= SEEDED_COMMENTS; n++) {
      await graphql(
        'mutation($id: ID!, $t: String!) { addComment(input: {imageId: $id, text: $t}) { comment { id } } }',
        {
          id: uploadedId,
          t: `Seeded comment ${n}`,
        },
      );
    }
    await page.locator(`.card[data-image-id="${uploadedId}"] a`).click();
    const article = page.locator(`.image-page[data-image-id="${uploadedId}"]`);
    await article.waitFor({ timeout: TIMEOUT });
    await article
      .locator('.analysis .badge[data-status="SUCCEEDED"]')
      .waitFor({ timeout: TIMEOUT });
    const description = (await article.locator('.description').innerText()).trim();
    assert.ok(description.length > 10, `a description is shown: ${description}`);
    await page.waitForFunction(() => document.querySelector('img.full')?.naturalWidth > 0);

    const comments = page.locator('.comments .comment');
    await comments.nth(9).waitFor({ timeout: TIMEOUT });
    assert.equal(await comments.count(), 10);
    await page.getByRole('button', { name: 'Load more comments' }).click();
    await comments.nth(SEEDED_COMMENTS - 1).waitFor({ timeout: TIMEOUT });
    assert.equal(await comments.count(), SEEDED_COMMENTS);
    assert.equal(await page.getByRole('button', { name: 'Load more comments' }).count(), 0);

    const text = 'Lovely light, posted from the browser test';
    await page.getByLabel('Add a comment').fill(text);
    await page.getByRole('button', { name: 'Post comment' }).click();
    await comments.first().getByText(text).waitFor({ timeout: TIMEOUT });
    assert.match(await page.locator('.comments h2').innerText(), /\(13\)/);
    const stored = await graphql(
      'query($id: ID!) { image(id: $id) { comments(first: 1) { nodes { text } } } }',
      { id: uploadedId },
    );
    assert.equal(stored.image.comments.nodes[0].text, text);
    // A mutation always goes with its text: the service never registers one by hash.
    const posted = graphqlBodies.findLast(named('AddComment'));
    assert.match(posted.query, /^mutation AddComment\b/);
    assert.equal(posted.extensions?.persistedQuery, undefined, 'no hash with a mutation');
    assert.equal(posted.variables.text, text);
    await shot('image-page', { fullPage: true });
  });

  test('the edit panel previews the slider settings and saves a new version', async () => {
    await page.locator('input[name="brightness"]').fill('1.5');
    await page.locator('input[name="saturation"]').fill('2');
    const preview = page.locator('img.edit-preview');
    await preview.waitFor({ timeout: TIMEOUT });
    assert.match(await preview.getAttribute('src'), /^data:image\//);
    await page.waitForFunction(() => document.querySelector('img.edit-preview')?.naturalWidth > 0);
    const edit = graphqlBodies.findLast(named('EditImage'));
    assert.equal(edit.variables.save, 'PREVIEW');
    assert.deepEqual(edit.variables.instructions, [{ brightness: 1.5 }, { saturation: 2 }]);
    await preview.scrollIntoViewIfNeeded();
    await shot('edit-preview');

    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.waitForURL((url) => /#\/images\//.test(url.hash) && !url.hash.includes(uploadedId), {
      timeout: TIMEOUT,
    });
    const newId = decodeURIComponent(new URL(page.url()).hash.slice('#/images/'.length));
    await page
      .locator(`.image-page[data-image-id="${newId}"]`)
      .getByText('edited from')
      .waitFor({ timeout: TIMEOUT });
    await page.waitForFunction(() => document.querySelector('img.full')?.naturalWidth > 0);
    const saved = await graphql(
      'query($id: ID!) { image(id: $id) { source parent { id } edits } }',
      { id: newId },
    );
    assert.equal(saved.image.source, 'EDIT');
    assert.equal(saved.image.parent.id, uploadedId);
    await shot('edit-saved');
  });

  // ---- Accounts: password sign-in, sign-out, tokens, users ----------------------------

  const ALICE = { name: 'alice', password: 'alice-password-1' };
  let aliceImageId;

  /** Signs out through the header and waits for the sign-in page. */
  const signOutInBrowser = async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).waitFor({ timeout: TIMEOUT });
  };

  /** Fills the name-and-password form by keyboard and submits it with Enter. */
  const signInByKeyboard = async (name, password) => {
    const nameField = page.getByLabel('Name', { exact: true });
    await nameField.fill('');
    await nameField.focus();
    await page.keyboard.type(name);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.name), 'password');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
  };

  const alertText = async (text) =>
    page.getByRole('alert').getByText(text).waitFor({ timeout: TIMEOUT });

  test('sign-out with a pasted token forgets it without revoking it', async () => {
    await page.goto(`${service.origin}/app/#/`);
    await page.locator('.viewer-name', { hasText: 'admin' }).waitFor({ timeout: TIMEOUT });
    await signOutInBrowser();
    assert.equal(await page.evaluate(() => localStorage.getItem('imagegraph.token')), null);
    await page.getByRole('status').getByText('You are signed out.').waitFor({ timeout: TIMEOUT });
    // The admin's token still works: it was only forgotten by this browser.
    assert.equal((await graphql('{ viewer { name } }')).viewer.name, 'admin');
  });

  test('password sign-in: wrong password and rate limit as plain sentences, then in', async () => {
    await graphql('mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }', {
      i: { ...ALICE, role: 'MEMBER' },
    });
    // The tab order of the form: name, password, the button.
    await page.getByLabel('Name', { exact: true }).focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Sign in');

    await signInByKeyboard(ALICE.name, 'not-her-password');
    await alertText('Wrong name or password.');
    await shot('sign-in-wrong-password');
    await narrowShot('sign-in-wrong-password');

    // A name's failures are limited (5 in a burst from one address): the sixth is refused
    // with the wait the service gives in `retryAfter`.
    for (let n = 0; n < 5; n++) {
      const answered = page.waitForResponse((r) =>
        (r.request().postData() ?? '').includes('mutation Login'),
      );
      await signInByKeyboard('mallory', `guess-number-${n}`);
      await answered;
      await alertText('Wrong name or password.');
    }
    await signInByKeyboard('mallory', 'guess-number-6');
    const limited = page
      .getByRole('alert')
      .getByText(/^Too many attempts; try again in \d+ seconds?\.$/);
    await limited.waitFor({ timeout: TIMEOUT });
    await shot('sign-in-rate-limited');

    await signInByKeyboard(ALICE.name, ALICE.password);
    await page.locator('.viewer-name', { hasText: 'alice' }).waitFor({ timeout: TIMEOUT });
    const stored = await page.evaluate(() => ({
      token: localStorage.getItem('imagegraph.token'),
      id: localStorage.getItem('imagegraph.tokenId'),
    }));
    assert.match(stored.token, /^igt_/);
    assert.ok(stored.id, 'the id of the token made by signing in is kept, to revoke it');
    // A member has no users page, neither in the header nor by address.
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0);
    await page.goto(`${service.origin}/app/#/users`);
    await alertText('Only admins can manage users.');
    // A reload keeps her signed in, with the token's id.
    await page.reload();
    await alertText('Only admins can manage users.');
    await page.locator('.viewer-name', { hasText: 'alice' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await page.evaluate(() => localStorage.getItem('imagegraph.tokenId')), stored.id);
    await page.goto(`${service.origin}/app/#/`);
    await page.locator('.grid .card').first().waitFor({ timeout: TIMEOUT });
    await shot('signed-in-member');
    await narrowShot('signed-in-member');
  });

  test('the tokens page lists, creates (shown once, copied) and revokes tokens', async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: service.origin,
    });
    const currentId = await page.evaluate(() => localStorage.getItem('imagegraph.tokenId'));
    await page.getByRole('link', { name: 'Tokens' }).click();
    const current = page.locator(`tr[data-token-id="${currentId}"]`);
    await current.waitFor({ timeout: TIMEOUT });
    assert.match(await current.innerText(), /login.*this browser/s);

    await page.getByLabel("New token's name").fill('backup script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secretField = page.getByLabel('The new token');
    await secretField.waitFor({ timeout: TIMEOUT });
    const secret = await secretField.inputValue();
    assert.match(secret, /^igt_/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied.').waitFor({ timeout: TIMEOUT });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    const row = page.locator('tr', { hasText: 'backup script' });
    await row.waitFor();
    await shot('tokens');
    await narrowShot('tokens');

    // The secret works: alice uploads an image with it (used by the "mine" filter below).
    const asAlice = apiClient(service.origin, secret);
    assert.equal((await asAlice('{ viewer { name } }')).viewer.name, 'alice');
    const up = await asAlice(
      'mutation($b: String!) { uploadImage(input: {base64: $b}) { image { id } } }',
      { b: seedPng(400).toString('base64') },
    );
    aliceImageId = up.uploadImage.image.id;

    // Shown once: leaving the page and coming back lists it without the secret.
    await page.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.getByLabel('The new token').count(), 0);
    await row.getByRole('button', { name: 'Revoke backup script' }).click();
    await row.waitFor({ state: 'detached', timeout: TIMEOUT });
    await assert.rejects(asAlice('{ viewer { name } }'), /UNAUTHENTICATED/);
  });

  test('changing the password keeps this browser signed in and revokes the other tokens', async () => {
    const token = await page.evaluate(() => localStorage.getItem('imagegraph.token'));
    const asAlice = apiClient(service.origin, token);
    const other = await asAlice(
      'mutation { createApiToken(input: {name: "laptop"}) { token apiToken { id } } }',
    );
    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill('not-her-password');
    await form.getByLabel('New password').fill('alice-new-password-2');
    await form.getByRole('button', { name: 'Change password' }).click();
    await page
      .getByRole('alert')
      .getByText('That is not your current password.')
      .waitFor({ timeout: TIMEOUT });

    await form.getByLabel('Current password').fill(ALICE.password);
    await form.getByRole('button', { name: 'Change password' }).click();
    await page
      .getByRole('status')
      .getByText(/^Password changed\. 1 other token of yours was revoked/)
      .waitFor({ timeout: TIMEOUT });
    await assert.rejects(
      apiClient(service.origin, other.createApiToken.token)('{ viewer { name } }'),
      /UNAUTHENTICATED/,
    );
    assert.equal((await asAlice('{ viewer { name } }')).viewer.name, 'alice');
    await page.locator('.viewer-name', { hasText: 'alice' }).waitFor();
    assert.equal(
      await page.locator(`tr[data-token-id="${other.createApiToken.apiToken.id}"]`).count(),
      0,
    );
    ALICE.password = 'alice-new-password-2';
    await page.locator('section.password').scrollIntoViewIfNeeded();
    await shot('password-changed');
  });

  test('sign-out revokes the token the password sign-in made', async () => {
    const token = await page.evaluate(() => localStorage.getItem('imagegraph.token'));
    assert.equal(
      (await apiClient(service.origin, token)('{ viewer { name } }')).viewer.name,
      'alice',
    );
    const revoked = page.waitForResponse((r) =>
      (r.request().postData() ?? '').includes('mutation RevokeApiToken'),
    );
    await signOutInBrowser();
    assert.equal((await (await revoked).json()).errors, undefined);
    await assert.rejects(
      apiClient(service.origin, token)('{ viewer { name } }'),
      /UNAUTHENTICATED/,
    );
    assert.equal(await page.evaluate(() => localStorage.getItem('imagegraph.token')), null);
    assert.equal(await page.evaluate(() => localStorage.getItem('imagegraph.tokenId')), null);
  });

  test('an admin creates a user, changes their role, disables and enables them', async () => {
    await page.getByText('Sign in with an API token instead').click();
    await page.getByLabel('API token').fill(service.token);
    await page.getByRole('button', { name: 'Sign in with token' }).click();
    await page.getByRole('link', { name: 'Users' }).click();
    await page.locator('tr[data-user-name="alice"]').waitFor({ timeout: TIMEOUT });

    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('Name', { exact: true }).fill('bob');
    await form.getByLabel('Password', { exact: true }).fill('bob-password-12');
    await form.getByRole('button', { name: 'Create user' }).click();
    const bob = page.locator('tr[data-user-name="bob"]');
    await bob.waitFor({ timeout: TIMEOUT });
    await page.getByText('bob can now sign in with that password.').waitFor();
    const userByName = async (name) =>
      (await graphql('{ users(first: 30) { nodes { name role disabled } } }')).users.nodes.find(
        (user) => user.name === name,
      );
    assert.deepEqual(await userByName('bob'), { name: 'bob', role: 'MEMBER', disabled: false });

    await bob.getByLabel('Role of bob').selectOption('ADMIN');
    await waitFor(async () => (await userByName('bob')).role === 'ADMIN');
    await bob.getByRole('button', { name: 'Disable bob' }).click();
    await bob.getByText('Disabled').waitFor({ timeout: TIMEOUT });
    assert.equal((await userByName('bob')).disabled, true);
    await shot('users');
    await narrowShot('users');
    await bob.getByRole('button', { name: 'Enable bob' }).click();
    await bob.getByText('Active').waitFor({ timeout: TIMEOUT });
    assert.equal((await userByName('bob')).disabled, false);

    // The service's refusal lands on the row as a sentence: the last active admin (bob
    // is demoted again first) cannot be demoted.
    await bob.getByLabel('Role of bob').selectOption('MEMBER');
    await waitFor(async () => (await userByName('bob')).role === 'MEMBER');
    const admin = page.locator('tr[data-user-name="admin"]');
    await admin.getByLabel('Role of admin').selectOption('MEMBER');
    await admin
      .getByRole('alert')
      .getByText(/^That was not accepted: /)
      .waitFor({ timeout: TIMEOUT });
    assert.equal((await userByName('admin')).role, 'ADMIN');
    assert.equal(await admin.getByLabel('Role of admin').inputValue(), 'ADMIN');
  });

  // ---- Find: search, tags, filters, all in the URL ------------------------------------

  test('search, a tag chip and the filters narrow the feed, live in the URL, survive a reload', async () => {
    // The analysed images (offline describer: tags from pixels) and their owners.
    const { images } = await graphql(
      '{ images(first: 30, filter: {analysisStatus: SUCCEEDED}) { nodes { id tags description source owner { name } } } }',
    );
    // One of the admin's uploads, so every filter below (mine, UPLOAD) can still find it.
    const tagged = images.nodes.find(
      (image) => image.owner.name === 'admin' && image.source === 'UPLOAD' && image.tags.length > 0,
    );
    assert.ok(tagged, "an analysed upload of the admin's has tags");
    const tag = tagged.tags[0];
    const count = async (filter, orderBy = null) =>
      (
        await graphql(
          'query($f: ImageFilter, $o: ImageOrder) { images(filter: $f, orderBy: $o) { totalCount } }',
          { f: filter, o: orderBy },
        )
      ).images.totalCount;
    const shownCount = async () =>
      Number(/\((\d+)\)/.exec(await page.locator('.feed h2').innerText())[1]);
    const lastFeed = () => graphqlBodies.findLast(named('Feed'));

    await page.getByRole('link', { name: 'Images' }).click();
    await page.locator('.grid .card').first().waitFor({ timeout: TIMEOUT });

    // A search in web search syntax: best match first.
    await page.getByLabel('Search', { exact: true }).fill(tag);
    await page.getByLabel('Search', { exact: true }).press('Enter');
    await page.waitForURL((url) => hashParams(url).get('q') === tag);
    await page.getByRole('heading', { name: /^Found/ }).waitFor({ timeout: TIMEOUT });
    await waitFor(async () => /\(\d+\)/.test(await page.locator('.feed h2').innerText()));
    const searched = await count({ search: tag }, 'RELEVANCE');
    assert.ok(searched > 0);
    assert.equal(await shownCount(), searched);
    assert.deepEqual(lastFeed().variables.filter, { search: tag });
    assert.equal(lastFeed().variables.orderBy, 'RELEVANCE');

    // A tag chip on a card adds the tag to the search.
    await page.getByLabel('Search', { exact: true }).fill('');
    await page.getByLabel('Search', { exact: true }).press('Enter');
    await page.waitForURL((url) => url.hash === '#/');
    await page.locator(`.card[data-image-id="${tagged.id}"] .chip[data-tag="${tag}"]`).click();
    await page.waitForURL((url) => hashParams(url).getAll('tag').join() === tag);
    await page.getByRole('list', { name: 'Tags searched for' }).getByText(tag).waitFor();
    await page
      .locator('.feed-end', { hasText: 'That is all of them.' })
      .waitFor({ timeout: TIMEOUT });
    const withTag = await count({ tags: [tag] });
    assert.equal(await shownCount(), withTag);
    for (const card of await page.locator('.grid .card').all())
      assert.equal(await card.locator(`.chip[data-tag="${tag}"][aria-pressed="true"]`).count(), 1);
    assert.deepEqual(lastFeed().variables.filter, { tags: [tag] });

    // Only mine: alice's upload (analysed, so tagged) is not the admin's.
    const adminId = (await graphql('{ viewer { id } }')).viewer.id;
    await page.getByLabel('Only mine').click();
    await page.waitForURL((url) => url.hash.includes('mine=1'));
    await waitFor(() => page.getByLabel('Only mine').isChecked());
    await page
      .locator('.feed-end', { hasText: /That is all of them|No image matches/ })
      .waitFor({ timeout: TIMEOUT });
    const mine = await count({ tags: [tag], ownerId: adminId });
    assert.ok(mine > 0);
    assert.equal(await shownCount(), mine);
    await page.locator(`.card[data-image-id="${tagged.id}"]`).waitFor();
    assert.equal(await page.locator(`.card[data-image-id="${aliceImageId}"]`).count(), 0);
    await shot('find-tag-mine');
    await narrowShot('find-tag-mine');

    // Source: the edited version is the one EDIT.
    await page.goto(`${service.origin}/app/#/`);
    await page.getByLabel('Source').selectOption('EDIT');
    await page.waitForURL((url) => url.hash === '#/?source=EDIT');
    await waitFor(async () => (await page.getByLabel('Source').inputValue()) === 'EDIT');
    await page
      .locator('.feed-end', { hasText: 'That is all of them.' })
      .waitFor({ timeout: TIMEOUT });
    assert.equal(await shownCount(), await count({ source: 'EDIT' }));
    assert.equal(await page.locator('.grid .card').count(), await count({ source: 'EDIT' }));

    // Analysis status, over more than a page: scrolling loads the next with the filter.
    await page.getByLabel('Source').selectOption('');
    await page.getByLabel('Analysis').selectOption('NOT_REQUESTED');
    await page.waitForURL((url) => url.hash === '#/?status=NOT_REQUESTED');
    await waitFor(async () => (await page.getByLabel('Analysis').inputValue()) === 'NOT_REQUESTED');
    const notAnalysed = await count({ analysisStatus: 'NOT_REQUESTED' });
    assert.ok(notAnalysed > FEED_PAGE, `${notAnalysed} unanalysed images make two pages`);
    const cards = page.locator('.grid .card');
    await cards.nth(FEED_PAGE - 1).waitFor({ timeout: TIMEOUT });
    await page.mouse.move(500, 500);
    for (let i = 0; i < 20 && (await cards.count()) < notAnalysed; i++) {
      await page.mouse.wheel(0, 1500);
      await page.waitForTimeout(200);
    }
    await page
      .locator('.feed-end', { hasText: 'That is all of them.' })
      .waitFor({ timeout: TIMEOUT });
    assert.equal(await cards.count(), notAnalysed);
    assert.equal(
      await page.locator('.grid .card .badge:not([data-status="NOT_REQUESTED"])').count(),
      0,
    );
    const paged = graphqlBodies.findLast((body) => named('Feed')(body) && body.variables.after);
    assert.deepEqual(paged.variables.filter, { analysisStatus: 'NOT_REQUESTED' });

    // Everything at once, from a shared link: the form shows it and the results match.
    const shared = `#/?q=${encodeURIComponent(tag)}&tag=${encodeURIComponent(tag)}&mine=1&source=UPLOAD&status=SUCCEEDED&sort=newest`;
    await page.goto(`${service.origin}/app/${shared}`);
    await page.reload();
    await page
      .locator('.feed-end', { hasText: /That is all of them|No image matches/ })
      .waitFor({ timeout: TIMEOUT });
    assert.equal(await page.getByLabel('Search', { exact: true }).inputValue(), tag);
    assert.equal(await page.getByLabel('Only mine').isChecked(), true);
    assert.equal(await page.getByLabel('Source').inputValue(), 'UPLOAD');
    assert.equal(await page.getByLabel('Analysis').inputValue(), 'SUCCEEDED');
    assert.equal(await page.getByLabel('Order').inputValue(), 'newest');
    const all = {
      search: tag,
      tags: [tag],
      ownerId: adminId,
      source: 'UPLOAD',
      analysisStatus: 'SUCCEEDED',
    };
    assert.deepEqual(lastFeed().variables.filter, all);
    assert.equal(lastFeed().variables.orderBy, 'NEWEST');
    // After a reload the page has forgotten everything, but the service has not: the
    // feed's query goes by hash alone and is answered.
    assert.equal(lastFeed().query, undefined, 'the reloaded feed is asked for by hash alone');
    const reloaded = await answerOf(graphqlExchanges.findLast(({ body }) => named('Feed')(body)));
    assert.equal(reloaded.errors, undefined);
    const everything = await count(all, 'NEWEST');
    assert.ok(everything > 0, 'the tagged upload matches every condition');
    assert.equal(reloaded.data.images.totalCount, everything);
    assert.equal(await shownCount(), everything);
    await page.locator(`.card[data-image-id="${tagged.id}"]`).waitFor();
    await shot('find-shared');
    await narrowShot('find-shared');

    // Every image's alt text is its description (or says it has none yet).
    for (const img of await page.locator('.grid .card img').all()) {
      const alt = await img.getAttribute('alt');
      assert.ok(alt && alt.length > 5, `alt: ${alt}`);
    }
    const described = images.nodes.find((image) => image.description);
    await page.goto(`${service.origin}/app/#/`);
    await page.locator(`.card[data-image-id="${described.id}"] img`).waitFor({ timeout: TIMEOUT });
    assert.equal(
      await page.locator(`.card[data-image-id="${described.id}"] img`).getAttribute('alt'),
      described.description,
    );
  });

  test('a user disabled by an admin is signed out of the open gallery at once', async () => {
    const bob = { name: 'bob', password: 'bob-password-12' };
    await signOutInBrowser();
    await signInByKeyboard(bob.name, bob.password);
    await page.locator('.viewer-name', { hasText: 'bob' }).waitFor({ timeout: TIMEOUT });
    // Bob's feed has its subscription open.
    await page.locator('.grid .card').first().waitFor({ timeout: TIMEOUT });
    const { users } = await graphql('{ users(first: 30) { nodes { id name } } }');
    const bobId = users.nodes.find((user) => user.name === 'bob').id;
    const before = graphqlBodies.length;
    await graphql(
      'mutation($id: ID!) { updateUser(input: {id: $id, disabled: true}) { user { id } } }',
      {
        id: bobId,
      },
    );
    // Nothing is clicked: the service closes the socket, the gallery checks its token.
    await page
      .getByRole('status')
      .getByText('You were signed out: the service no longer accepts this sign-in.')
      .waitFor({ timeout: TIMEOUT });
    assert.equal(await page.evaluate(() => localStorage.getItem('imagegraph.token')), null);
    // The check that found out was the one the socket's closing (4403) asked for.
    assert.ok(graphqlBodies.slice(before).some(named('Viewer')));
    await shot('signed-out-disabled');
    await graphql(
      'mutation($id: ID!) { updateUser(input: {id: $id, disabled: false}) { user { id } } }',
      {
        id: bobId,
      },
    );
  });

  // ---- Leftovers of the earlier pages: tag links, focus after revoking, more users ----

  /** Signs in with the admin's token from the sign-in page. */
  const signInAsAdmin = async () => {
    await page.getByText('Sign in with an API token instead').click();
    await page.getByLabel('API token').fill(service.token);
    await page.getByRole('button', { name: 'Sign in with token' }).click();
    await page.locator('.viewer-name', { hasText: 'admin' }).waitFor({ timeout: TIMEOUT });
  };

  test('a tag chip on the image page opens the feed filtered by that tag', async () => {
    await signInAsAdmin();
    const { images } = await graphql(
      '{ images(first: 30, filter: {analysisStatus: SUCCEEDED}) { nodes { id tags } } }',
    );
    const tagged = images.nodes.find((image) => image.tags.length > 1);
    assert.ok(tagged, 'an analysed image has more than one tag');
    const tag = tagged.tags.at(-1);
    await page.goto(`${service.origin}/app/#/images/${encodeURIComponent(tagged.id)}`);
    const chips = page.getByRole('list', { name: 'Tags' });
    await chips.waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await chips.getByRole('link').allInnerTexts(), tagged.tags);
    // By keyboard: the link takes the focus and Enter follows it.
    await chips.getByRole('link', { name: tag, exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.hash.startsWith('#/?'), { timeout: TIMEOUT });
    const params = hashParams(new URL(page.url()));
    assert.deepEqual([...params.keys()], ['tag']);
    assert.equal(params.get('tag'), tag);
    await page
      .locator('.feed-end', { hasText: 'That is all of them.' })
      .waitFor({ timeout: TIMEOUT });
    const { images: withTag } = await graphql(
      'query($t: [String!]) { images(first: 30, filter: {tags: $t}) { totalCount nodes { id } } }',
      { t: [tag] },
    );
    const shown = await page
      .locator('.grid .card')
      .evaluateAll((cards) => cards.map((card) => card.dataset.imageId));
    assert.deepEqual(
      shown,
      withTag.nodes.map((image) => image.id),
    );
    assert.ok(shown.includes(tagged.id));
    assert.match(
      await page.locator('.feed h2').innerText(),
      new RegExp(`\\(${withTag.totalCount}\\)`),
    );
  });

  test("revoking a token by keyboard leaves the focus on the next token's button, then the previous one's", async () => {
    const made = [];
    for (const name of ['focus one', 'focus two']) {
      made.push(
        (
          await graphql(
            'mutation($n: String!) { createApiToken(input: {name: $n}) { token apiToken { id } } }',
            { n: name },
          )
        ).createApiToken,
      );
    }
    const { viewer } = await graphql('{ viewer { apiTokens { id name } } }');
    const order = viewer.apiTokens.map((token) => token.id);
    const [one, two] = made.map((m) => m.apiToken.id);
    assert.deepEqual(order.slice(-2), [one, two], 'oldest first, the new ones last');
    const before = order[order.length - 3];
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.locator(`tr[data-token-id="${two}"]`).waitFor({ timeout: TIMEOUT });
    const focusedRow = () =>
      page.evaluate(
        () =>
          document.activeElement?.closest('tr')?.dataset.tokenId ?? document.activeElement?.tagName,
      );

    await page.getByRole('button', { name: 'Revoke focus one' }).focus();
    await page.keyboard.press('Enter');
    await page
      .locator(`tr[data-token-id="${one}"]`)
      .waitFor({ state: 'detached', timeout: TIMEOUT });
    assert.equal(await focusedRow(), two);
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Revoke focus two');
    await assert.rejects(
      apiClient(service.origin, made[0].token)('{ viewer { name } }'),
      /UNAUTHENTICATED/,
    );

    // The last row: the focus goes back to the row before it.
    await page.keyboard.press('Enter');
    await page
      .locator(`tr[data-token-id="${two}"]`)
      .waitFor({ state: 'detached', timeout: TIMEOUT });
    assert.equal(await focusedRow(), before);
    await assert.rejects(
      apiClient(service.origin, made[1].token)('{ viewer { name } }'),
      /UNAUTHENTICATED/,
    );
    // The admin's own token (the row that has the focus now) still works.
    assert.equal((await graphql('{ viewer { name } }')).viewer.name, 'admin');
  });

  /** `createUser` as the admin, waiting out the accounts allowance when it runs dry. */
  const createUser = async (input) => {
    for (;;) {
      try {
        return await graphql(
          'mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }',
          { i: input },
        );
      } catch (error) {
        const wait = /"retryAfter":(\d+)/.exec(error.message);
        if (!/RATE_LIMITED/.test(error.message) || !wait) throw error;
        await new Promise((ok) => setTimeout(ok, Number(wait[1]) * 1000));
      }
    }
  };

  test('the users page loads the users past its first page, and the focus goes to the first new one', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.locator('tr[data-user-name="admin"]').waitFor({ timeout: TIMEOUT });
    const PAGE = graphqlBodies.findLast(named('Users')).variables.first;
    const { users: first } = await graphql('{ users(first: 1) { totalCount } }');
    // Enough users for a second page.
    for (let n = first.totalCount; n <= PAGE; n++)
      await createUser({
        name: `member-${String(n).padStart(2, '0')}`,
        password: 'member-password-1',
      });
    const { users: pageOne } = await graphql(
      'query($f: Int) { users(first: $f) { totalCount pageInfo { endCursor hasNextPage } } }',
      { f: PAGE },
    );
    assert.ok(pageOne.totalCount > PAGE && pageOne.pageInfo.hasNextPage);
    const { users: pageTwo } = await graphql(
      'query($f: Int, $a: String) { users(first: $f, after: $a) { nodes { name } } }',
      { f: PAGE, a: pageOne.pageInfo.endCursor },
    );
    await page.reload();
    const rows = page.locator('table.users tbody tr');
    await rows.nth(PAGE - 1).waitFor({ timeout: TIMEOUT });
    assert.equal(await rows.count(), PAGE);
    assert.match(
      await page.locator('.users-page h1').innerText(),
      new RegExp(`\\(${pageOne.totalCount}\\)`),
    );
    const more = page.getByRole('button', { name: 'Load more users' });
    await more.focus();
    await page.keyboard.press('Enter');
    await rows.nth(pageOne.totalCount - 1).waitFor({ timeout: TIMEOUT });
    assert.equal(await rows.count(), pageOne.totalCount);
    const names = await rows.evaluateAll((all) => all.map((row) => row.dataset.userName));
    assert.deepEqual(
      names.slice(PAGE),
      pageTwo.nodes.map((user) => user.name),
    );
    assert.equal(await more.count(), 0, 'no more to load');
    assert.equal(
      await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.userName),
      pageTwo.nodes[0].name,
    );
  });

  // ---- Usage dashboard ----------------------------------------------------------------

  const CAROL = { name: 'carol', password: 'carol-password-1' };

  /** What the dashboard shows: the totals and the top operations table. */
  const shownUsage = async () => {
    const figures = {};
    for (const figure of await page.locator('.usage-page .figures > div').all()) {
      const key = await figure.getAttribute('data-figure');
      const first = (await figure.locator('dd').innerText()).split('\n')[0];
      figures[key] = Number(first.replace(/\D/g, ''));
    }
    const top = {};
    for (const row of await page.locator('table.top-metrics tbody tr').all()) {
      const cell = async (field) =>
        Number((await row.locator(`[data-field="${field}"]`).innerText()).replace(/\D/g, ''));
      top[await row.getAttribute('data-metric-name')] = {
        count: await cell('count'),
        errorCount: await cell('errorCount'),
        tokens: await cell('tokens'),
      };
    }
    return { figures, top };
  };

  /** The same figures from the API, for the variables the page's last `Usage` query sent. */
  const apiUsage = async (api) => {
    const sent = graphqlBodies.findLast(named('Usage'));
    const data = await api(textOf(sent), sent.variables);
    const s = data.metricsSummary;
    const figures = {
      totalApiCalls: s.totalApiCalls,
      totalFunctionCalls: s.totalFunctionCalls,
      aiTokens: s.promptTokens + s.completionTokens,
    };
    if (sent.variables.scope === 'GLOBAL') figures.uniqueUsers = s.uniqueUsers;
    const top = {};
    for (const m of data.metrics.nodes)
      top[m.name] = {
        count: m.count,
        errorCount: m.errorCount,
        tokens: m.promptTokens + m.completionTokens,
      };
    return { sent: sent.variables, figures, top };
  };

  /**
   * Runs `check` until it passes. Usage is written every few seconds, so a flush between
   * the page's read and the test's can move the figures: then the page is refreshed and
   * both are read again.
   */
  const eventually = async (check) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await check();
      } catch (error) {
        if (attempt >= 6) throw error;
        const answered = page.waitForResponse((r) =>
          (r.request().postData() ?? '').includes('"operationName":"Usage"'),
        );
        await page.getByRole('button', { name: 'Refresh' }).click();
        await answered;
        await page.waitForTimeout(700);
      }
    }
  };

  /** The dashboard's totals and top operations are the API's for the same scope and time. */
  const dashboardMatchesApi = (api) =>
    eventually(async () => {
      const shown = await shownUsage();
      const expected = await apiUsage(api);
      assert.deepEqual(shown, { figures: expected.figures, top: expected.top });
      return expected;
    });

  /** The chart's table (buckets that saw use) matches `metricsSeries` for what was sent. */
  const seriesMatchApi = (api) => eventually(() => seriesMatchOnce(api));
  const seriesMatchOnce = async (api) => {
    const charted = await page
      .locator('table.series-table thead th[scope="col"]')
      .evaluateAll((cells) => cells.slice(1).map((cell) => cell.textContent));
    assert.ok(charted.length > 0, 'something is charted');
    for (const name of charted) {
      const sent = graphqlBodies.findLast(
        (body) => named('MetricsSeries')(body) && body.variables.name === name,
      );
      const { metricsSeries } = await api(textOf(sent), sent.variables);
      const fromApi = Object.fromEntries(
        metricsSeries.filter((p) => p.count > 0).map((p) => [Date.parse(p.bucketStart), p.count]),
      );
      const inTable = Object.fromEntries(
        (
          await page
            .locator(`table.series-table tbody td[data-name="${name}"]`)
            .evaluateAll((cells) =>
              cells.map((cell) => [cell.closest('tr').dataset.bucket, Number(cell.textContent)]),
            )
        )
          .filter(([, count]) => count > 0)
          .map(([iso, count]) => [Date.parse(iso), count]),
      );
      assert.deepEqual(inTable, fromApi, `the series of ${name}`);
    }
    return charted;
  };

  test('a member sees her own usage: totals, top operations and the chart match the API', async () => {
    await createUser({ ...CAROL, role: 'MEMBER' });
    const { login } = await graphql('mutation($i: LoginInput!) { login(input: $i) { token } }', {
      i: CAROL,
    });
    const asCarol = apiClient(service.origin, login.token);
    // Real use to count: uploads (each analysed by the offline provider) and comments.
    const uploads = 3;
    const comments = 2;
    let imageId;
    for (let n = 0; n < uploads; n++) {
      const up = await asCarol(
        'mutation($b: String!) { uploadImage(input: {base64: $b}) { image { id } } }',
        { b: seedPng(500 + n).toString('base64') },
      );
      imageId = up.uploadImage.image.id;
    }
    for (let n = 0; n < comments; n++) {
      await asCarol(
        'mutation($id: ID!, $t: String!) { addComment(input: {imageId: $id, text: $t}) { comment { id } } }',
        { id: imageId, t: `carol's comment ${n}` },
      );
    }
    // Written within the flush interval.
    const functionCount = async (name) =>
      (
        await asCarol('{ metrics(kind: FUNCTION, first: 100) { nodes { name count } } }')
      ).metrics.nodes.find((m) => m.name === name)?.count ?? 0;
    await waitFor(async () => (await functionCount('comment.add')) === comments, 30_000);
    assert.equal(await functionCount('image.upload'), uploads);

    await signOutInBrowser();
    await signInByKeyboard(CAROL.name, CAROL.password);
    await page.locator('.viewer-name', { hasText: 'carol' }).waitFor({ timeout: TIMEOUT });
    const asCarolInBrowser = apiClient(
      service.origin,
      await page.evaluate(() => localStorage.getItem('imagegraph.token')),
    );
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.locator('table.top-metrics').waitFor({ timeout: TIMEOUT });
    // A member has no choice of whose usage.
    assert.equal(await page.getByRole('combobox', { name: /^Whose usage\b/ }).count(), 0);

    // Functions over the last hour, per minute: what she did, counted.
    await page.getByRole('combobox', { name: /^Time\b/ }).selectOption('1h');
    await page.getByRole('combobox', { name: /^Per\b/ }).selectOption('MINUTE');
    await page.getByRole('combobox', { name: /^Count\b/ }).selectOption('FUNCTION');
    await page.locator('tr[data-metric-name="comment.add"]').waitFor({ timeout: TIMEOUT });
    await page.locator('table.series-table').waitFor({ state: 'attached', timeout: TIMEOUT });
    const usage = await dashboardMatchesApi(asCarolInBrowser);
    assert.equal(usage.sent.scope, 'VIEWER');
    assert.equal(usage.sent.kind, 'FUNCTION');
    assert.equal(usage.top['image.upload'].count, uploads);
    assert.equal(usage.top['comment.add'].count, comments);
    // The series are asked for per minute, of functions.
    const series = graphqlBodies.findLast(named('MetricsSeries'));
    assert.equal(series.variables.bucket, 'MINUTE');
    assert.equal(series.variables.kind, 'FUNCTION');

    // Charting comment.add alone: a checkbox per operation.
    const box = (name) =>
      page.getByRole('group', { name: 'Operations charted' }).getByLabel(name, { exact: true });
    for (const name of await page
      .locator('table.series-table thead th[scope="col"]')
      .evaluateAll((cells) => cells.slice(1).map((cell) => cell.textContent)))
      if (name !== 'comment.add') await box(name).uncheck();
    await box('comment.add').check();
    await waitFor(
      async () =>
        JSON.stringify(
          await page
            .locator('table.series-table thead th[scope="col"]')
            .evaluateAll((cells) => cells.slice(1).map((cell) => cell.textContent)),
        ) === JSON.stringify(['comment.add']),
    );
    assert.deepEqual(await seriesMatchApi(asCarolInBrowser), ['comment.add']);
    await box('image.upload').check();
    await page
      .locator('table.series-table td[data-name="image.upload"]')
      .first()
      .waitFor({ state: 'attached', timeout: TIMEOUT });
    assert.deepEqual(await seriesMatchApi(asCarolInBrowser), ['comment.add', 'image.upload']);
    const chart = page.getByRole('img', {
      name: /^Line chart of calls per minute for comment\.add, image\.upload/,
    });
    await chart.locator('canvas').waitFor({ timeout: TIMEOUT });

    // The API operations over a day, per hour (the default bucket for it).
    await page.getByRole('combobox', { name: /^Count\b/ }).selectOption('API');
    await page.getByRole('combobox', { name: /^Time\b/ }).selectOption('24h');
    await page.getByRole('combobox', { name: /^Per\b/ }).selectOption('HOUR');
    await waitFor(() => graphqlBodies.findLast(named('Usage')).variables.kind === 'API');
    await page.locator('tr[data-metric-name^="query "]').first().waitFor({ timeout: TIMEOUT });
    await dashboardMatchesApi(asCarolInBrowser);
    await seriesMatchApi(asCarolInBrowser);
    await shot('usage-member', { fullPage: true });
    await narrowShot('usage-member');

    // Global figures are not hers to see: the page offers no way, the API refuses.
    await assert.rejects(
      asCarolInBrowser('{ metricsSummary(scope: GLOBAL) { totalApiCalls } }'),
      /FORBIDDEN/,
    );
  });

  test("an admin sees everyone's usage and one user's, picked from every user", async () => {
    await signOutInBrowser();
    await signInAsAdmin();
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.locator('table.top-metrics').waitFor({ timeout: TIMEOUT });
    await page.getByRole('combobox', { name: /^Whose usage\b/ }).selectOption('USER');
    const users = page.getByRole('combobox', { name: /^User\b/ });
    // Every user, past the first page of 30.
    const { users: all } = await graphql('{ users(first: 1) { totalCount } }');
    await waitFor(async () => (await users.locator('option').count()) === all.totalCount);
    await users.selectOption({ label: 'carol' });
    const { users: listed } = await graphql('{ users(first: 30) { nodes { id name } } }');
    const carolId = listed.nodes.find((user) => user.name === 'carol').id;
    await waitFor(() => graphqlBodies.findLast(named('Usage'))?.variables.userId === carolId);
    await page.getByRole('combobox', { name: /^Count\b/ }).selectOption('FUNCTION');
    await page.locator('tr[data-metric-name="comment.add"]').waitFor({ timeout: TIMEOUT });
    const carols = await dashboardMatchesApi(graphql);
    assert.equal(carols.sent.scope, 'USER');
    assert.equal(carols.sent.userId, carolId);
    await seriesMatchApi(graphql);
    assert.equal(await page.locator('[data-figure="uniqueUsers"]').count(), 0);
    await shot('usage-admin-user', { fullPage: true });

    // Everyone's: the admin's seeding and carol's use together, and how many called.
    await page.getByRole('combobox', { name: /^Whose usage\b/ }).selectOption('GLOBAL');
    await page.locator('[data-figure="uniqueUsers"]').waitFor({ timeout: TIMEOUT });
    const everyone = await dashboardMatchesApi(graphql);
    assert.equal(everyone.sent.scope, 'GLOBAL');
    assert.ok(everyone.top['image.upload'].count > carols.top['image.upload'].count);
    assert.ok(everyone.figures.uniqueUsers >= 2);
    await seriesMatchApi(graphql);
    await shot('usage-admin-global', { fullPage: true });
    await narrowShot('usage-admin-global');
  });

  // ---- Benchmark ------------------------------------------------------------------------

  test('a benchmark run shows live progress, its result, and joins the chart of past runs', async () => {
    // An earlier, small run, so the chart has two orders n to tell apart.
    const { runBenchmark } = await graphql(
      'mutation { runBenchmark(input: {n: 300, threads: 1}) { run { id } } }',
    );
    const runQuery =
      'query($id: ID!) { benchmarkRun(id: $id) { id status n gflops residual passed } }';
    await waitFor(
      async () =>
        ['SUCCEEDED', 'FAILED'].includes(
          (await graphql(runQuery, { id: runBenchmark.run.id })).benchmarkRun.status,
        ),
      30_000,
    );

    await page.getByRole('link', { name: 'Benchmark' }).click();
    const pastRows = page.locator('table.runs tbody tr');
    await pastRows.first().waitFor({ timeout: TIMEOUT });
    assert.equal(await pastRows.count(), 1);

    // Every value the progress bar takes, sampled.
    await page.evaluate(() => {
      window.progressSeen = [];
      window.progressSampler = setInterval(() => {
        const bar = document.querySelector('.current-run progress');
        if (bar) window.progressSeen.push(bar.value);
      }, 20);
    });
    const n = 4000;
    await page.getByLabel('Matrix order n', { exact: true }).fill(String(n));
    await page.getByLabel('Threads (empty: all cores)').fill('1');
    const started = page.waitForResponse((r) =>
      (r.request().postData() ?? '').includes('mutation RunBenchmark'),
    );
    await page.getByRole('button', { name: 'Run benchmark' }).click();
    const runId = (await (await started).json()).data.runBenchmark.run.id;
    const current = page.locator(`.current-run[data-run-id="${runId}"]`);
    await current.locator('[data-figure="gflops"]').waitFor({ timeout: 120_000 });
    const seen = await page.evaluate(() => {
      clearInterval(window.progressSampler);
      return window.progressSeen;
    });
    assert.ok(
      seen.some((value) => value > 0 && value < 1),
      `the bar moved between 0 and 1: ${[...new Set(seen)].join(', ')}`,
    );
    assert.equal(seen.at(-1), 1);
    const progressFrames = wsFrames.filter(
      (f) => f.dir === 'received' && f.data.includes('benchmarkProgress') && f.data.includes(runId),
    );
    assert.ok(
      progressFrames.some((f) => f.data.includes('"done":false')),
      'progress came live',
    );
    assert.ok(
      progressFrames.some((f) => f.data.includes('"done":true')),
      'and the end',
    );

    const { benchmarkRun: run } = await graphql(runQuery, { id: runId });
    assert.equal(run.status, 'SUCCEEDED');
    assert.equal(run.n, n);
    assert.equal(await current.getAttribute('data-status'), run.status);
    assert.equal(
      await current.locator('[data-figure="gflops"] dd').innerText(),
      run.gflops.toFixed(2),
    );
    assert.equal(
      await current.locator('[data-figure="residual"] dd').innerText(),
      run.residual.toPrecision(3),
    );
    assert.equal(
      await current.locator('[data-figure="passed"] dd').innerText(),
      `${run.passed ? 'Passed' : 'Failed'}\nthe scaled residual must be below 16`,
    );
    // What the person waited for has the focus.
    assert.match(
      await page.evaluate(() => document.activeElement.textContent),
      /^Result: n = 4000, 1 thread$/,
    );

    // The past runs: the table holds the API's figures, the chart one series per n.
    await pastRows.nth(1).waitFor({ timeout: TIMEOUT });
    const { benchmarkRuns } = await graphql(
      '{ benchmarkRuns(first: 30) { totalCount nodes { id n gflops residual } } }',
    );
    const table = await pastRows.evaluateAll((rows) =>
      rows.map((row) => ({
        id: row.dataset.runId,
        n: Number(row.querySelector('[data-field="n"]').textContent),
        gflops: row.querySelector('[data-field="gflops"]').textContent,
        residual: row.querySelector('[data-field="residual"]').textContent,
      })),
    );
    assert.deepEqual(
      table,
      benchmarkRuns.nodes.map((r) => ({
        id: r.id,
        n: r.n,
        gflops: r.gflops.toFixed(2),
        residual: r.residual.toPrecision(3),
      })),
    );
    const chart = page.getByRole('img', {
      name: /^Chart of GFLOPS by date for 2 runs, one series per matrix order n \(300, 4000\)/,
    });
    await chart.locator('canvas').waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await chart.locator('.u-legend .u-series .u-label').allInnerTexts(), [
      'n = 300',
      'n = 4000',
    ]);
    await shot('benchmark', { fullPage: true });
    await narrowShot('benchmark');
  });

  test('a member may run the benchmark only up to her limit, told in a sentence', async () => {
    await signOutInBrowser();
    await signInByKeyboard(CAROL.name, CAROL.password);
    await page.locator('.viewer-name', { hasText: 'carol' }).waitFor({ timeout: TIMEOUT });
    await page.getByRole('link', { name: 'Benchmark' }).click();
    // Her own runs only: none yet.
    await page.getByText('No run yet.').waitFor({ timeout: TIMEOUT });
    await page.getByLabel('Matrix order n', { exact: true }).fill('100000');
    await page.getByRole('button', { name: 'Run benchmark' }).click();
    await page
      .getByRole('alert')
      .getByText(/^That was not accepted: `n` must be between 1 and \d+ for members; got 100000$/)
      .waitFor({ timeout: TIMEOUT });
    await shot('benchmark-member-refused');
  });

  test('queries went by hash and POST, mutations with their text, never by hash', () => {
    const texts = new Map(); // hash -> the text sent with it
    for (const body of graphqlBodies) {
      const hash = hashOf(body);
      if (body.query && hash) {
        assert.equal(sha256(body.query), hash, `the hash of ${body.operationName}`);
        texts.set(hash, body.query);
      }
      if (body.query && !/^query\b/.test(body.query))
        assert.equal(hash, undefined, `${body.operationName} is not a query: sent without a hash`);
    }
    const hashed = graphqlBodies.filter((body) => !body.query);
    assert.ok(hashed.length > 10, `${hashed.length} requests went by hash alone`);
    for (const body of hashed) {
      // The service is fresh: whatever it found by hash, the gallery sent as text first.
      assert.match(texts.get(hashOf(body)) ?? '', /^query\b/, `${body.operationName} by hash`);
    }
    // POST, not GET: the answers are not cacheable anyway, and GET would put the
    // variables in the URL.
    assert.deepEqual(
      requests.filter((url) => url.startsWith(`${service.origin}/graphql?`)),
      [],
      'no GraphQL request went by GET',
    );
  });

  test('no request left the service, and the pages ran under the CSP without errors', () => {
    harness.assertOnlyTheServices();
    const wsOrigin = service.origin.replace(/^http/, 'ws');
    assert.ok(
      requests.some((url) => url === `${wsOrigin}/graphql/ws`),
      'subscriptions used /graphql/ws',
    );
  });
});

/** The query parameters of a gallery URL's hash route (`#/?q=…`). */
function hashParams(url) {
  const query = url.hash.indexOf('?');
  return new URLSearchParams(query < 0 ? '' : url.hash.slice(query + 1));
}
