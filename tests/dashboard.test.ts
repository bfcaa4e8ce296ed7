import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loraKeys } from '../src/services/tenant-keys.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';
import { startTrainerStandin, type TrainerStandin } from './helpers/trainer-standin.ts';
import { postTrainingCallback, uploadRunArtifacts } from './helpers/training-callbacks.ts';

// The dashboard at /app (issue 16) end to end in headless Chromium (Debian's `chromium`, driven by
// playwright-core; nothing is downloaded), against the real API and workers of this process: a
// person signs in, drops two files and watches both bars reach done, searches and sees the hit
// highlighted, reads the memory built from them, asks the twin and sees tokens before the reply
// ends, opens a citation's passage, reloads the page in the middle of a reply (and loses the
// WebSocket in the middle of another) and gets the whole reply, then starts a training run and
// watches its live status. Training runs on the strict trainer stand-in (tests/helpers), the test
// posting the trainer's signed callbacks: the real local trainer takes minutes on this machine.
// Screenshots of every view go to test-results/dashboard/ (not committed).

const ROOT = resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results', 'dashboard');
const missing = existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (apt-get install chromium; npm test does)`;
if (missing) console.warn(`dashboard tests skipped: ${missing}`);

const CORPUS = join(import.meta.dirname, 'fixtures', 'twin-eval', 'corpus');
const FILES = ['about-me.md', 'running-log.txt'];
const SECRET = `dash-callback-${randomUUID()}`;
// a slow stream: the page shows tokens long before the reply ends
const TOKENS = [
  'You',
  ' run',
  ' along',
  ' the',
  ' river',
  ' most',
  ' mornings',
  ' [1]',
  ',',
  ' and',
  ' you',
  ' keep',
  ' a',
  ' log',
  ' of',
  ' every',
  ' run',
  ' [2]',
  '.',
  ' That',
  ' is',
  ' what',
  ' your',
  ' notes',
  ' say',
  '.',
];
const REPLY = TOKENS.join('');

let app: TestApp;
let model: OpenAIStandin;
let trainer: TrainerStandin;
let browser: Browser;
let page: Page;
const userId = `dash-${randomUUID()}`;
const appUrl = () => app.url.replace(/\/graphql$/, '/app/');
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

async function ask(question: string) {
  await page.getByLabel('Message to your twin').fill(question);
  await page.getByRole('button', { name: 'Send' }).click();
  return page.getByTestId('streaming-reply');
}

/** The text of the last reply of the transcript, once the stream has ended into it. */
async function finishedReply() {
  await expect.poll(() => page.getByTestId('streaming-reply').count(), { timeout: 30_000 }).toBe(0);
  return page.locator('.message.assistant .reply-text').last().innerText();
}

/** Posts the trainer's signed callbacks for a submitted run, as modal/ does. */
function callbackPoster(submit: { runId: string; callbackUrl: string }) {
  return async (seq: number, event: Record<string, unknown>) => {
    const res = await postTrainingCallback(
      app.url,
      submit.callbackUrl,
      { runId: submit.runId, attempt: 1, seq, ...event },
      { secret: SECRET },
    );
    expect(res.status).toBe(200);
  };
}

const uploadArtifacts = (runId: string) => uploadRunArtifacts(app.services.blobs, userId, runId);

describe.skipIf(missing !== null)('the dashboard in a real browser', () => {
  beforeAll(async () => {
    execFileSync('bash', [join(ROOT, 'scripts', 'web.sh')], { stdio: 'inherit' });
    mkdirSync(SHOTS, { recursive: true });
    trainer = await startTrainerStandin(() => ['I do not know.']);
    // the twin's inference as modal/ serves it (twin:{userId}, and a run's twin:{userId}@{runId} the
    // evaluation asks), streaming slowly
    model = await startOpenAIStandin({
      tokens: TOKENS,
      ttftMs: 300,
      interTokenMs: 140,
      backend: 'modal',
      apiToken: trainer.token,
    });
    app = await startTestApp({
      withWorkers: true,
      env: {
        CHAT_BACKEND: 'modal',
        MODAL_INFERENCE_URL: model.url,
        CHAT_IDLE_MS: '600000',
        MEMORY_LLM: 'off',
        MEMORY_DEBOUNCE_MS: '0',
        // small chunks: two short files make memory enough to train on
        CHUNK_MIN_TOKENS: '20',
        CHUNK_MAX_TOKENS: '60',
        MODAL_TRAIN_URL: trainer.url,
        MODAL_TOKEN: trainer.token,
        MODAL_CALLBACK_SECRET: SECRET,
        L2_MIN_CHUNKS: '3',
        L2_MIN_EXAMPLES: '3',
        // the evaluation table and its Promote button stay for the person to decide
        TRAINING_AUTO_PROMOTE: 'false',
        TRAINING_EVAL_MAX_ITEMS: '3',
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  });

  afterAll(async () => {
    await browser?.close();
    if (app) await removeUsers(app.config, app.services.blobs, app.services.orm, [userId]);
    await app?.close();
    await model?.close();
    await trainer?.close();
  });

  it('serves the built app at /app with its browser defences, and index.html for its own paths', async () => {
    const res = await fetch(appUrl());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(new URL(script!, appUrl()));
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await (await fetch(`${appUrl()}chat/some-session`)).text()).toBe(html);
    expect((await fetch(`${appUrl()}assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${appUrl()}..%2f..%2fpackage.json`)).status).toBe(404);
  });

  it('signs in with a key kept for the tab, uploads two dropped files and shows both bars reach done', async () => {
    await page.goto(appUrl());
    await page.getByRole('button', { name: 'Continue as the development user' }).waitFor();
    await shot('01-sign-in');
    // the development user is refused here (AUTH_ALLOW_ANONYMOUS=false): the reason is shown
    await page.getByRole('button', { name: 'Continue as the development user' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Sign-in failed');
    // one token: two issued in different seconds differ
    const token = app.tokenFor(userId);
    await page.getByLabel('API key or access token').fill(token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Documents', exact: true }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('twin.credential'))).toBe(token);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    const files = FILES.map((name) => ({ name, content: readFileSync(join(CORPUS, name), 'utf8') }));
    files.push({ name: 'empty.txt', content: '' });
    await page.getByTestId('dropzone').evaluate((zone, list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([f.content], f.name, { type: 'text/plain' }));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, files);
    // a file refused says why
    await page.getByText(/^empty\.txt: /).waitFor();
    for (const name of FILES) {
      const row = page.locator(`tr[data-document="${name}"]`);
      await expect.poll(() => row.getAttribute('data-stage'), { timeout: 45_000 }).toBe('DONE');
      await expect.poll(() => row.locator('progress').getAttribute('value')).toBe('100');
      expect(await row.innerText()).toContain('Done');
    }
    await shot('02-documents');
  });

  it('searches and highlights the matched words in the hit', async () => {
    await page.getByLabel('Search query').fill('marathon training');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const hits = page.getByRole('list', { name: 'Search results' });
    await hits.locator('mark').first().waitFor();
    const marked = await hits.locator('mark').allInnerTexts();
    expect(marked.map((m) => m.toLowerCase())).toContain('marathon');
    expect(await hits.innerText()).toContain('running-log.txt');
    await shot('03-search');
  });

  it('shows the memory built from the documents: status, topics with sizes, a cluster’s passages', async () => {
    await page.getByRole('link', { name: 'Memory' }).click();
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.getByTestId('memory-status').innerText();
        },
        { timeout: 45_000, interval: 1000 },
      )
      .toBe('ready');
    const tree = page.getByRole('list', { name: 'Topic hierarchy' });
    await tree.locator('.size').first().waitFor();
    await page.locator('.clusters button').first().click();
    await page.locator('.memory-grid .passage').first().waitFor();
    await shot('04-memory');
  });

  it('streams a reply token by token, then a numbered citation opens its passage with the document', async () => {
    await page.getByRole('link', { name: 'Chat' }).click();
    await page.getByRole('button', { name: 'New chat' }).click();
    const reply = await ask('Where do I run?');
    // tokens on the page while the reply is still being written
    await expect.poll(() => reply.locator('.reply-text').count(), { timeout: 15_000 }).toBe(1);
    const early = await reply.locator('.reply-text').innerText();
    expect(early.length).toBeGreaterThan(0);
    expect(early.length).toBeLessThan(REPLY.length);
    expect(await reply.getAttribute('aria-busy')).toBe('true');
    await shot('05-chat-streaming');
    expect(await finishedReply()).toBe(REPLY);

    await page.getByRole('button', { name: 'Open source 1' }).last().click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.getByTestId('passage-text').innerText()).not.toMatch(/^Loading/);
    const passage = await dialog.getByTestId('passage-text').innerText();
    expect(passage.length).toBeGreaterThan(20);
    expect(await dialog.getByRole('heading').innerText()).toMatch(/about-me\.md|running-log\.txt/);
    await shot('06-chat-citation');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
  });

  it('a reload, or a lost connection, in the middle of a reply resumes it: nothing lost or repeated', async () => {
    let reply = await ask('What do my notes say about running?');
    await expect.poll(() => reply.locator('.reply-text').count(), { timeout: 15_000 }).toBe(1);
    const before = await reply.locator('.reply-text').innerText();
    await page.reload();
    reply = page.getByTestId('streaming-reply');
    await reply.waitFor();
    await shot('07-chat-after-reload');
    expect(await finishedReply()).toBe(REPLY);
    expect(REPLY.startsWith(before)).toBe(true);

    reply = await ask('And how often?');
    await expect.poll(() => reply.locator('.reply-text').count(), { timeout: 15_000 }).toBe(1);
    await page.evaluate(() =>
      (window as unknown as { twinTransport: { dropConnection(): void } }).twinTransport.dropConnection(),
    );
    expect(await finishedReply()).toBe(REPLY);
  });

  it('starts a training run and shows its live status: stage, attempt, step and the loss chart; cancel', async () => {
    await page.getByRole('link', { name: 'Training' }).click();
    await page.getByRole('button', { name: 'Start training' }).click();
    const run = page.getByTestId('training-run');
    await run.waitFor({ timeout: 15_000 });
    await expect.poll(() => trainer.submits.some((s) => s.userId === userId), { timeout: 45_000 }).toBe(true);
    const submit = trainer.submits.find((s) => s.userId === userId)!;
    const post = callbackPoster(submit);
    await post(1, { event: 'started', stage: 'starting' });
    const losses = [3.9, 3.1, 2.4, 1.9];
    for (const [i, loss] of losses.entries())
      await post(i + 2, { event: 'progress', stage: 'training', step: (i + 1) * 2, totalSteps: 8, loss });
    await expect.poll(() => page.getByTestId('training-step').innerText(), { timeout: 15_000 }).toBe('8 / 8');
    expect(await page.getByTestId('training-stage').innerText()).toBe('training');
    expect(await page.getByTestId('training-loss').innerText()).toBe('1.9000');
    expect(await page.getByTestId('loss-points').innerText()).toBe('(4 points)');
    expect(await run.locator('canvas').count()).toBeGreaterThan(0);
    await shot('08-training-live');

    await page.getByRole('button', { name: 'Cancel training' }).click();
    await expect
      .poll(() => page.getByTestId('training-status').innerText(), { timeout: 15_000 })
      .toBe('cancelled');
    await shot('09-training-cancelled');
  });

  it('shows a completed run’s evaluation against the base model, and Promote makes it the twin', async () => {
    await page.getByRole('button', { name: 'Start training' }).click();
    const submits = () => trainer.submits.filter((s) => s.userId === userId);
    await expect.poll(() => submits().length, { timeout: 45_000 }).toBe(2);
    const submit = submits()[1]!;
    const post = callbackPoster(submit);
    await post(1, { event: 'started', stage: 'starting' });
    await post(2, { event: 'progress', stage: 'training', step: 8, totalSteps: 8, loss: 1.2 });
    await post(3, {
      event: 'completed',
      stage: 'completed',
      step: 8,
      totalSteps: 8,
      loss: 1.2,
      artifacts: await uploadArtifacts(submit.runId),
    });
    const evaluation = page.getByRole('heading', { name: 'Evaluation: done' });
    await evaluation.waitFor({ timeout: 60_000 });
    const table = page.locator('section[aria-labelledby="eval-title"] table');
    expect(await table.locator('thead th').allInnerTexts()).toEqual(['Metric', 'This run', 'Base model']);
    const row = async (label: string) =>
      (await table.getByRole('row', { name: label }).locator('td').allInnerTexts()).map(Number);
    // both models answered through the same stand-in, so they score the same, from 0 to 1
    const facts = await row('Fact accuracy');
    expect(facts).toHaveLength(2);
    expect(facts[0]).toBe(facts[1]);
    const recall = await row('Recall@5');
    expect(recall[0]).toBeGreaterThan(0);
    expect(recall[0]).toBeLessThanOrEqual(1);
    expect(await page.getByText('Not worse than the model served: it can be promoted.').count()).toBe(1);
    await shot('10-training-evaluated');

    await page.getByRole('button', { name: 'Promote' }).click();
    await page.getByText('Served as your twin').waitFor({ timeout: 15_000 });
    const manifest = JSON.parse((await app.services.blobs.get(userId, loraKeys.latestManifest())).toString());
    expect(manifest.runId).toBe(submit.runId);
    await shot('11-training-promoted');
  });

  it('fits a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['documents', 'chat']) {
      await page.goto(`${appUrl()}#/${view}`);
      await page.locator('main#main h2, main#main .sessions').first().waitFor();
      // nothing wider than the screen
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot(`12-phone-${view}`);
    }
  });
});
