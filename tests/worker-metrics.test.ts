import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeUsers } from './helpers/cleanup.ts';
import { childEnv, startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';

// The worker process serves its own /metrics (WORKER_METRICS_PORT): what its jobs did is in its
// registry, not the API's, so a scrape of the API alone never saw ingest or replies.

const METRICS_TOKEN = 'worker-metrics-token-0123456789';
let app: TestApp;
let worker: ChildProcess;
let metricsUrl: string;
const userId = `wmetrics-${randomUUID()}`;

beforeAll(async () => {
  app = await startTestApp({ withWorkers: false });
  worker = spawn(process.execPath, ['src/worker.ts'], {
    env: childEnv(app.config, { LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0', METRICS_TOKEN }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  worker.stderr!.on('data', (d) => (out += d));
  // the port it picked is in its log line; the workers run once it says so
  metricsUrl = await new Promise<string>((resolve, reject) => {
    let url: string | undefined;
    worker.stdout!.on('data', (d) => {
      out += d;
      url ??= /worker metrics on (http:\/\/[^\s"]+\/metrics)/.exec(out)?.[1];
      if (url && out.includes('workers running')) resolve(url);
    });
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${out}`)));
  });
}, 60_000);

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  if (app) await removeUsers(app.config, app.services.blobs, app.services.orm, [userId]);
  await app?.close();
});

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

async function scrape(): Promise<string> {
  const res = await fetch(metricsUrl, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('the worker process /metrics', () => {
  it('asks for METRICS_TOKEN as the API does', async () => {
    expect((await fetch(metricsUrl)).status).toBe(401);
    expect((await fetch(metricsUrl, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('counts the jobs it ran, their durations, embedding calls, queue depth and the process', async () => {
    const before = await scrape();
    const ingested = (t: string) =>
      sample(t, 'twin_job_outcomes_total', { queue: 'ingest', outcome: 'completed' });
    const client = app.client(userId);
    const doc = await uploadDocument(
      client,
      'field-notes.txt',
      `Field notes ${randomUUID()}: the heron came back.`,
    );
    expect((await settled(client, doc.id)).status).toBe('PROCESSED');
    // the outcome is counted just after the job's last write: wait for it rather than sleep
    let after = await scrape();
    for (const deadline = Date.now() + 10_000; ingested(after) <= ingested(before) && Date.now() < deadline; )
      after = await scrape();
    expect(ingested(after)).toBeGreaterThan(ingested(before));
    expect(
      sample(after, 'twin_job_duration_seconds_count', { queue: 'ingest', outcome: 'completed' }),
    ).toBeGreaterThan(
      sample(before, 'twin_job_duration_seconds_count', { queue: 'ingest', outcome: 'completed' }),
    );
    expect(sample(after, 'twin_embedding_texts_total')).toBeGreaterThan(
      sample(before, 'twin_embedding_texts_total'),
    );
    expect(after).toMatch(/^twin_queue_jobs\{queue="ingest",state="waiting"\} \d+$/m);
    expect(sample(after, 'twin_process_resident_memory_bytes')).toBeGreaterThan(0);
    // the API's registry saw none of it
    const api = await (await fetch(app.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(sample(api, 'twin_job_outcomes_total', { queue: 'ingest' })).toBe(0);
  });
});
