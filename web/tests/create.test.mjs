// Making images in the gallery, end to end: generation and editing (every instruction,
// crop by dragging, replace, a prompt edit whose plan is shown before it is saved, the
// versions strip and its before/after slider). Two real services in zero-setup mode: one
// whose OpenAI is the fake of support/fake_openai.mjs (only the service talks to it), one
// with the offline provider, which cannot generate or plan. The browser reaches the two
// services and nothing else.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { apiClient } from './support/api.mjs';
import { openBrowser, RESULTS, TIMEOUT, waitFor } from './support/browser.mjs';
import { DESCRIPTION, startFakeOpenAi, sunset } from './support/fake_openai.mjs';
import { startService } from './support/service.mjs';

/** Long enough to see (and screenshot) the waiting state. */
const GENERATION_DELAY_MS = 3000;

describe('create', { timeout: 600_000 }, () => {
  let fake;
  let ai; // the service with the fake provider
  let offline; // the service with none
  let asAdmin; // GraphQL on `ai` with the admin's token
  let harness;
  let page;
  let seededId; // a 480x360 upload on `ai`, described by the fake

  before(async () => {
    fake = await startFakeOpenAi({ generationDelayMs: GENERATION_DELAY_MS });
    // One after the other: each takes a free port only when it starts listening, so two
    // starting at once can be handed the same one.
    ai = await startService({
      logFile: join(RESULTS, 'service-ai.log'),
      env: { OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: fake.apiKey },
    });
    offline = await startService({ logFile: join(RESULTS, 'service-offline.log') });
    asAdmin = apiClient(ai.origin, ai.token);
    const uploaded = await asAdmin(
      'mutation($b: String!) { uploadImage(input: {base64: $b}) { image { id } } }',
      { b: sunset(480, 360).toString('base64') },
    );
    seededId = uploaded.uploadImage.image.id;
    await waitFor(async () => (await analysis(seededId)) === 'SUCCEEDED');
    harness = await openBrowser([ai.origin, offline.origin]);
    page = harness.page;
  });

  after(async () => {
    await harness?.close();
    await Promise.all([ai?.stop(), offline?.stop()]);
    await fake?.stop();
  });

  const analysis = async (id) =>
    (await asAdmin('query($id: ID!) { image(id: $id) { analysis { status } } }', { id })).image
      .analysis.status;

  const signIn = async (service) => {
    await page.goto(`${service.origin}/app/`);
    await page.getByText('Sign in with an API token instead').click();
    await page.getByLabel('API token').fill(service.token);
    await page.getByRole('button', { name: 'Sign in with token' }).click();
    await page.locator('.viewer-name', { hasText: 'admin' }).waitFor({ timeout: TIMEOUT });
  };

  const alert = (text) => page.getByRole('alert').getByText(text);

  const imageIdInUrl = () => decodeURIComponent(new URL(page.url()).hash.slice('#/images/'.length));

  /** Waits for the image page of `id` with its picture loaded. */
  const imagePage = async (id) => {
    await page.locator(`.image-page[data-image-id="${id}"]`).waitFor({ timeout: TIMEOUT });
    await page.waitForFunction(() => document.querySelector('img.full')?.naturalWidth > 0);
  };

  // Queries go by hash alone once the service knows them; only mutations are looked up
  // here, and they always carry their text.
  const lastBody = (name) => harness.graphqlBodies.findLast((b) => b.query?.includes(name));

  test('without a provider, generation and prompt edits say so in a plain sentence', async () => {
    await signIn(offline);
    await page.getByRole('link', { name: 'Generate' }).click();
    await page.getByLabel('Prompt').fill('A lighthouse at dusk');
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const refusal =
      'Image generation is not available: this service has no AI provider set up. An admin can set OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server) and restart it.';
    await alert(refusal).waitFor({ timeout: TIMEOUT });
    await harness.shot('generate-no-provider');
    await harness.narrowShot('generate-no-provider');

    const { uploadImage } = await apiClient(offline.origin, offline.token)(
      'mutation($b: String!) { uploadImage(input: {base64: $b, analyze: false}) { image { id } } }',
      { b: sunset(160, 120).toString('base64') },
    );
    await page.goto(`${offline.origin}/app/#/images/${encodeURIComponent(uploadImage.image.id)}`);
    await imagePage(uploadImage.image.id);
    await page.getByLabel('What should change?').fill('brighter');
    await page.getByRole('button', { name: 'Plan the edit' }).click();
    await alert(/^Planning edits from a prompt is not available: this service has no AI provider/)
      .first()
      .waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('.plan').count(), 0);
    assert.equal(fake.calls.length, 1, 'only the seeded upload was described by the fake');
  });

  let generatedId;

  test('generate by keyboard: waiting state, status over generationCompleted, result opens and leads the feed', async () => {
    await signIn(ai);
    await page.getByRole('link', { name: 'Generate' }).click();
    const prompt = page.getByLabel('Prompt');
    await prompt.waitFor({ timeout: TIMEOUT });
    await harness.shot('generate');
    await harness.narrowShot('generate');

    // Prompt, then the shape (arrow keys move within the radio group), the checkbox, the button.
    await prompt.focus();
    await page.keyboard.type('A sunset over a calm violet sea');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByLabel(/^Portrait/).isChecked(), true);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.name), 'describe');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');

    await page
      .getByRole('status')
      .getByText(/^(Queued|Generating): “A sunset over a calm violet sea”/)
      .waitFor({ timeout: TIMEOUT });
    const sent = lastBody('mutation GenerateImage');
    assert.deepEqual(sent.variables.input, {
      prompt: 'A sunset over a calm violet sea',
      size: 'PORTRAIT',
      analyze: true,
    });
    await harness.shot('generate-waiting');
    assert.ok(
      harness.wsFrames.some(
        (f) => f.dir === 'sent' && f.data.includes('subscription GenerationCompleted'),
      ),
      'the page subscribed to generationCompleted',
    );

    await page.waitForURL((url) => url.hash.startsWith('#/images/'), { timeout: TIMEOUT });
    generatedId = imageIdInUrl();
    await imagePage(generatedId);
    assert.ok(
      harness.wsFrames.some(
        (f) =>
          f.dir === 'received' &&
          f.data.includes('generationCompleted') &&
          f.data.includes('SUCCEEDED') &&
          f.data.includes(generatedId),
      ),
      'SUCCEEDED, with the image, came over the WebSocket',
    );
    // The fake was asked for the shape chosen, and that is what was stored.
    const call = fake.calls.find((c) => c.path === '/v1/images/generations');
    assert.deepEqual(
      { prompt: call.body.prompt, size: call.body.size },
      { prompt: 'A sunset over a calm violet sea', size: '1024x1536' },
    );
    const { image } = await asAdmin(
      'query($id: ID!) { image(id: $id) { width height source prompt } }',
      { id: generatedId },
    );
    assert.deepEqual(image, {
      width: 1024,
      height: 1536,
      source: 'GENERATION',
      prompt: 'A sunset over a calm violet sea',
    });
    await page.getByText('Generated from the prompt').waitFor();
    // Described by the fake's vision answer, which becomes the alt text.
    await page.locator('.analysis .badge[data-status="SUCCEEDED"]').waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('img.full').getAttribute('alt'), DESCRIPTION);
    await harness.shot('generate-result');

    await page.getByRole('link', { name: 'Images' }).click();
    const first = page.locator('.grid .card').first();
    await first.waitFor({ timeout: TIMEOUT });
    assert.equal(await first.getAttribute('data-image-id'), generatedId);
    assert.equal(await first.locator('img').getAttribute('alt'), DESCRIPTION);
  });

  test('a refused generation says why in a sentence', async () => {
    await page.getByRole('link', { name: 'Generate' }).click();
    await page.getByLabel('Prompt').fill('Something forbidden');
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await alert(
      /^The generation failed: the AI provider refused the request: Your request was rejected as a result of our safety system\./,
    ).waitFor({ timeout: TIMEOUT + GENERATION_DELAY_MS });
    // The form is usable again, the prompt kept for changing.
    assert.equal(await page.getByLabel('Prompt').inputValue(), 'Something forbidden');
    assert.equal(
      await page.getByRole('button', { name: 'Generate', exact: true }).isEnabled(),
      true,
    );
    await harness.shot('generate-failed');
    await harness.narrowShot('generate-failed');
  });

  let editedId;

  test('edit: a crop dragged on the image and typed in, with every other instruction, previewed and saved', async () => {
    await page.goto(`${ai.origin}/app/#/images/${encodeURIComponent(seededId)}`);
    await imagePage(seededId);
    const stage = page.locator('.crop-image');
    await stage.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelector('.crop-image')?.naturalWidth > 0);
    const box = await stage.boundingBox();
    const scale = 480 / box.width; // image pixels per screen pixel
    // Drag from a quarter in to three quarters in: the middle half of the image.
    await page.mouse.move(box.x + box.width / 4, box.y + box.height / 4);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(box.x + (box.width * 3) / 4, box.y + (box.height * 3) / 4, {
      steps: 4,
    });
    await page.mouse.up();
    const field = (name) => page.locator(`input[name="crop-${name}"]`);
    const near = async (name, expected) => {
      const value = Number(await field(name).inputValue());
      assert.ok(Math.abs(value - expected) <= Math.ceil(scale), `${name} ${value} ≈ ${expected}`);
    };
    await near('x', 120);
    await near('y', 90);
    await near('width', 240);
    await near('height', 180);
    await page.locator('.crop-box').waitFor();

    // The same box by keyboard: the numbers move it.
    await field('x').fill('100');
    await field('y').fill('90');
    await field('width').fill('240');
    await field('height').fill('180');
    const left = await page.locator('.crop-box').evaluate((el) => parseFloat(el.style.left));
    assert.ok(Math.abs(left - (100 / 480) * 100) < 0.01, `the box starts at ${left}%`);

    await page.getByLabel('Rotate').selectOption('90');
    await page.getByLabel('Mirror').check();
    await page.getByLabel('Resize width').fill('90');
    await page.locator('input[name="contrast"]').fill('1.2');
    await page.locator('input[name="blur"]').fill('1');
    await page.getByLabel('Greyscale').check();

    const expected = [
      { crop: { x: 100, y: 90, width: 240, height: 180 } },
      { rotate: 90 },
      { flip: 'HORIZONTAL' },
      { resize: { width: 90, height: null, fit: 'CONTAIN' } },
      { contrast: 1.2 },
      { blur: 1 },
      { grayscale: true },
    ];
    const sent = () => lastBody('mutation EditImage')?.variables.instructions;
    await waitFor(() => isDeepStrictEqual(sent(), expected)).catch(() =>
      assert.deepEqual(sent(), expected, 'the last preview asked for every instruction'),
    );
    assert.equal(lastBody('mutation EditImage').variables.save, 'PREVIEW');
    // The preview is the service's rendering of exactly that: 240x180 cropped, turned to
    // 180x240, resized to 90 wide.
    await page.waitForFunction(
      () => {
        const img = document.querySelector('img.edit-preview');
        return img?.complete && img.naturalWidth === 90 && img.naturalHeight === 120;
      },
      null,
      { timeout: TIMEOUT },
    );
    await harness.shot('edit-all', { fullPage: true });
    await harness.narrowShot('edit-all');

    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.waitForURL(
      (url) => url.hash.startsWith('#/images/') && !url.hash.includes(seededId),
    );
    editedId = imageIdInUrl();
    await imagePage(editedId);
    const { image } = await asAdmin(
      'query($id: ID!) { image(id: $id) { width height source edits parent { id } } }',
      { id: editedId },
    );
    assert.deepEqual(image, {
      width: 90,
      height: 120,
      source: 'EDIT',
      edits: expected,
      parent: { id: seededId },
    });
  });

  test('the versions strip compares a version with its original by a keyboard slider', async () => {
    const versions = page.locator('section.versions');
    await versions.getByText('Compare: Made from').waitFor({ timeout: TIMEOUT });
    const before = page.locator('img.compare-before');
    const after = page.locator('img.compare-after');
    // The original is older: it is "before"; the images' alt is their description.
    assert.equal(await before.getAttribute('alt'), `Before: ${DESCRIPTION}`);
    assert.match(await after.getAttribute('alt'), /^After: /);
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.compare img')].every((img) => img.naturalWidth > 0),
    );
    const slider = page.getByLabel('Before / after');
    await slider.focus();
    await page.keyboard.press('Home');
    assert.equal(await before.evaluate((el) => el.style.clipPath), 'inset(0px 100% 0px 0px)');
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight');
    assert.equal(await slider.inputValue(), '30');
    assert.equal(await before.evaluate((el) => el.style.clipPath), 'inset(0px 70% 0px 0px)');
    // The strip's heading just under the sticky header.
    await page
      .locator('#versions-heading')
      .evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 70));
    await harness.shot('versions-compare');
    await harness.narrowShot('versions-compare');

    // From the original, the same pair: the edit is the version made from it.
    await versions.getByRole('link', { name: 'Open' }).click();
    await imagePage(seededId);
    await page
      .locator(`.version-strip li[data-version-id="${editedId}"]`)
      .getByText(/^Compare: Crop to 240 × 180 from \(100, 90\), Rotate 90° clockwise/)
      .waitFor({ timeout: TIMEOUT });
  });

  test('a prompt edit shows the planned instructions and their preview before saving', async () => {
    const before = (await asAdmin('{ images { totalCount } }')).images.totalCount;
    await page.getByLabel('What should change?').fill('Brighter, and make it square');
    await page.getByRole('button', { name: 'Plan the edit' }).click();
    const steps = page.getByRole('list', { name: 'Planned edits' }).getByRole('listitem');
    await steps.first().waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await steps.allInnerTexts(), [
      'Crop to 360 × 360 from (60, 0)',
      'Brightness × 1.3 (more)',
    ]);
    await page.waitForFunction(() => {
      const img = document.querySelector('img.plan-preview');
      return img?.complete && img.naturalWidth === 360 && img.naturalHeight === 360;
    });
    // Planned and previewed; nothing stored yet.
    assert.equal(lastBody('mutation EditImageWithPrompt').variables.save, 'PREVIEW');
    assert.equal((await asAdmin('{ images { totalCount } }')).images.totalCount, before);
    // The planner was asked with the image's size, and offered the tool.
    const plan = fake.calls.findLast((c) => c.body?.tools);
    assert.match(plan.body.messages[0].content, /480x360 pixels/);
    assert.equal(plan.body.messages[1].content, 'Brighter, and make it square');
    await page
      .locator('.prompt-edit')
      .evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 70));
    await harness.shot('prompt-plan');
    await harness.narrowShot('prompt-plan');

    await page.getByRole('button', { name: 'Save the plan as a new version' }).click();
    await page.waitForURL(
      (url) => url.hash.startsWith('#/images/') && !url.hash.includes(seededId),
    );
    const id = imageIdInUrl();
    await imagePage(id);
    const { image } = await asAdmin('query($id: ID!) { image(id: $id) { width height edits } }', {
      id,
    });
    assert.deepEqual(image, {
      width: 360,
      height: 360,
      edits: [{ crop: { x: 60, y: 0, width: 360, height: 360 } }, { brightness: 1.3 }],
    });

    // A prompt the planner finds nothing to do for: the service's refusal, in words.
    await page.getByLabel('What should change?').fill('make it sing');
    await page.getByRole('button', { name: 'Plan the edit' }).click();
    await alert(
      'The AI provider could not do it: the model planned no edits for this prompt',
    ).waitFor({ timeout: TIMEOUT });
  });

  test('replace changes the image in place, and its earlier content becomes a version', async () => {
    await page.goto(`${ai.origin}/app/#/images/${encodeURIComponent(seededId)}`);
    await imagePage(seededId);
    const oldSrc = await page.locator('img.full').getAttribute('src');
    await page.locator('input[name="brightness"]').fill('1.5');
    await page.locator('img.edit-preview').waitFor({ timeout: TIMEOUT });
    await page.getByRole('button', { name: 'Replace this image' }).click();
    await waitFor(async () => (await page.locator('img.full').getAttribute('src')) !== oldSrc);
    assert.equal(imageIdInUrl(), seededId, 'the same image, new content');
    const { image } = await asAdmin(
      'query($id: ID!) { image(id: $id) { edits versions(first: 30) { nodes { id edits } } } }',
      { id: seededId },
    );
    assert.deepEqual(image.edits, [{ brightness: 1.5 }]);
    const kept = image.versions.nodes.find((v) => v.edits === null);
    assert.ok(kept, 'the earlier content is kept as a version');
    // The form starts again, and the strip shows the kept content.
    assert.equal(await page.locator('input[name="brightness"]').inputValue(), '1');
    await page
      .locator(`.version-strip li[data-version-id="${kept.id}"]`)
      .getByText(/^Compare: Earlier content/)
      .waitFor({ timeout: TIMEOUT });
    await harness.shot('replaced', { fullPage: true });
  });

  test('no request left the services, and the pages ran under the CSP without errors', () => {
    harness.assertOnlyTheServices();
    const fakeOrigin = new URL(fake.baseUrl).origin;
    assert.deepEqual(
      harness.requests.filter((url) => url.startsWith(fakeOrigin)),
      [],
      'the browser never called the AI provider',
    );
    assert.ok(fake.calls.some((c) => c.path === '/v1/images/generations'));
  });
});
