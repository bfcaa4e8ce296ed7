import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import {
  PromoteTrainingRunDocument,
  StartTrainingDocument,
  TrainingRunDocument,
  TrainingStatusDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { type App, createApp } from '../src/server.ts';
import type { WorkerPool } from '../src/services/adapters/bullmq/job-queue.bullmq.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { loraKeys } from '../src/services/tenant-keys.ts';
import { startWorkers } from '../src/worker-runtime.ts';
import { isTerminal, sendMessage, startChat } from './helpers/chat.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { createTestClient, member, type TestClient } from './helpers/client.ts';
import { TEST_AUTH_SECRET, testConfig } from './helpers/harness.ts';
import { uploadDocument } from './helpers/ingest.ts';

// End to end with no stand-in for the Python side (issue 12): the real modal/ local trainer
// (`bash modal/scripts/local-trainer.sh`, the tiny model on CPU) trains the run the server
// prepared, posts signed callbacks to this server, and serves the promoted GGUF with llama.cpp.
// Runs only when the trainer's variables are set:
//   eval "$(bash modal/scripts/local-trainer.sh --print-env)" && npx vitest run tests/training-e2e.test.ts
const enabled = Boolean(process.env.MODAL_TRAIN_URL && process.env.MODAL_CALLBACK_SECRET);
const corpus = join(import.meta.dirname, 'fixtures', 'twin-eval', 'corpus');
const DOCS = [
  'about-me.md',
  'family.md',
  'journal-2024-spring.md',
  'opinions.md',
  'running-log.txt',
  'reading-2024.txt',
];

let services: Services;
let app: App;
let workers: WorkerPool;
let client: TestClient;
const timings: Record<string, number> = {};

async function reply(content: string) {
  const session = await startChat(client);
  const sent = await sendMessage(client, session, content);
  const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
  const all = await sub.until(isTerminal, 120_000);
  sub.close();
  return all.at(-1)!.data!.twinReply;
}

describe.skipIf(!enabled)('training end to end with the real local trainer', () => {
  beforeAll(async () => {
    const port = 47_000 + Math.floor(Math.random() * 2000);
    const config = testConfig({
      PORT: String(port),
      TRAINING_CALLBACK_BASE_URL: `http://127.0.0.1:${port}`,
      CHAT_BACKEND: 'modal',
      MODAL_INFERENCE_URL: process.env.MODAL_INFERENCE_URL ?? `${process.env.MODAL_TRAIN_URL}/v1`,
      MEMORY_DEBOUNCE_MS: '0',
      L2_MIN_CHUNKS: '3',
      L2_MIN_EXAMPLES: '3',
      TRAINING_HYPERPARAMETERS: '{"maxSteps":4,"epochs":1,"maxSeqLength":1024}',
      TRAINING_EVAL_MAX_ITEMS: '5',
      CHAT_MAX_TOKENS: '24',
    });
    services = await createServices(config, pino({ level: config.LOG_LEVEL }), jobs);
    app = createApp(services);
    await app.listen(port, '127.0.0.1');
    workers = await startWorkers(services, jobs);
    const userId = `trn-${randomUUID()}`;
    client = createTestClient({
      url: `http://127.0.0.1:${port}/graphql`,
      wsUrl: `ws://127.0.0.1:${port}/graphql`,
      token: issueToken(TEST_AUTH_SECRET, userId),
      userId,
    });
  }, 60_000);

  afterAll(async () => {
    console.log('training e2e timings (s):', JSON.stringify(timings));
    client?.dispose();
    if (services) await removeUsers(services.config, services.blobs, services.orm, [client.userId]);
    await app?.close();
    await workers?.close(2000);
    await services?.close();
  });

  it('an untrained twin answers (the base model), then train → promoted → twin:{userId} answers', async () => {
    const begun = Date.now();
    const untrained = await reply('What do you do on weekends?');
    expect(untrained.__typename, JSON.stringify(untrained)).toBe('ReplyDone');
    for (const name of DOCS) await uploadDocument(client, name, readFileSync(join(corpus, name)));
    for (const until = Date.now() + 120_000; ; ) {
      const v = await services.memory.current(client.userId);
      if (v && (v.counts?.documents ?? 0) >= DOCS.length) break;
      if (Date.now() > until) throw new Error('no L1 memory');
      await new Promise((r) => setTimeout(r, 200));
    }
    timings.l1 = (Date.now() - begun) / 1000;
    const started = member(
      (await client.request(StartTrainingDocument, {})).data!.startTraining,
      'TrainingRun',
    );
    const ws = client.subscribeWs(TrainingStatusDocument, { runId: started.id, afterSeq: 0 });
    const sse = client.subscribeSse(TrainingStatusDocument, { runId: started.id, afterSeq: 0 });
    const t0 = Date.now();
    const final = (e: {
      data?: { trainingStatus: { __typename: string } & Record<string, unknown> } | null;
    }) => {
      const s = e.data?.trainingStatus as { event?: string; status?: string } | undefined;
      return s?.event === 'promoted' || s?.status === 'FAILED' || s?.event === 'evaluated';
    };
    const events = await ws.until(final as never, 280_000);
    const names = events.map((e) => (e.data!.trainingStatus as { event: string }).event);
    const at = (name: string) => names.indexOf(name);
    expect(names, names.join(',')).toContain('completed');
    timings.train = (Date.now() - t0) / 1000;
    let run = (await client.request(TrainingRunDocument, { id: started.id })).data!.trainingRun!;
    console.log('evaluation:', JSON.stringify(run.evaluation));
    if (!run.promoted) {
      const waited = await ws
        .until((e) => (e.data?.trainingStatus as { event?: string })?.event === 'promoted', 30_000)
        .catch(() => null);
      if (!waited) {
        // the tiny random model's answers are noise: the harness is what is measured here
        const forced = await client.request(PromoteTrainingRunDocument, { id: started.id, force: true });
        member(forced.data!.promoteTrainingRun, 'TrainingRun');
        timings.forced = 1;
      }
      run = (await client.request(TrainingRunDocument, { id: started.id })).data!.trainingRun!;
    }
    expect(at('started')).toBeLessThan(at('completed'));
    const sseEvents = await sse.until(
      (e) => (e.data?.trainingStatus as { event?: string })?.event === 'completed',
      10_000,
    );
    expect(sseEvents.length).toBeGreaterThan(0);
    ws.close();
    sse.close();
    expect(run).toMatchObject({ status: 'COMPLETED', promoted: true });
    expect(run.artifacts.map((a) => a.name)).toContain('gguf_q8_0');
    const manifest = JSON.parse(
      (await services.blobs.get(client.userId, loraKeys.latestManifest())).toString(),
    );
    expect(manifest.runId).toBe(started.id);
    const trained = await reply('What do you do on weekends?');
    expect(trained.__typename, JSON.stringify(trained)).toBe('ReplyDone');
    expect((trained as { model: string }).model).toBe(`twin:${client.userId}`);
    timings.e2e = (Date.now() - begun) / 1000;
  }, 420_000);
});
