import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestProgressDocument } from '../src/sdk/generated/graphql.ts';
import type { TestApp } from './helpers/harness.ts';
import { childEnv, startTestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { expectPackedChunks } from './helpers/packed-chunks.ts';

// A worker process killed with SIGKILL mid-document: BullMQ's stalled-job check hands the job to
// another worker, which must finish it without leaving duplicate chunks or vectors.
let app: TestApp;
const workers: ChildProcess[] = [];
beforeAll(async () => {
  app = await startTestApp({ withWorkers: false });
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await app?.close();
});

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['src/worker.ts'], {
    env: childEnv(app.config, {
      LOG_LEVEL: 'silent',
      WORKER_CONCURRENCY: '2',
      // a killed worker's job is picked up after its lock expires: keep that short in the test
      JOB_LOCK_MS: '3000',
      JOB_STALLED_INTERVAL_MS: '1000',
    }),
    stdio: 'ignore',
  });
  workers.push(child);
  return child;
}

describe('worker crash', () => {
  it('a document whose worker is SIGKILLed mid-ingest completes once after restart', async () => {
    const client = app.client();
    const events = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    const text = Array.from(
      { length: 9000 },
      (_, i) =>
        `Record ${i} tells of the ${['falcon', 'cedar', 'basalt', 'lagoon', 'ember'][i % 5]} survey number ${i * 13}.`,
    ).join(' ');
    const first = startWorker();
    const doc = await uploadDocument(client, 'crash.txt', text);
    await events.until(
      (e) =>
        e.data?.ingestProgress.documentId === doc.id &&
        ['EMBEDDING', 'INDEXING'].includes(e.data.ingestProgress.stage),
      60_000,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    startWorker();
    const done = await settled(client, doc.id, 100_000);
    events.close();
    expect({ status: done.status, error: done.error }).toEqual({ status: 'PROCESSED', error: null });
    expect(done.chunkCount).toBeGreaterThan(50);
    // one chunk file, holding each chunk once
    await expectPackedChunks(app.services, client.userId, doc.id, done.chunkCount);
    expect(await app.services.vectors.countByDocument(client.userId, doc.id)).toBe(done.chunkCount);
  }, 150_000);
});
