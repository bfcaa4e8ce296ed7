import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestProgressDocument } from '../src/sdk/generated/graphql.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';

const run = promisify(execFile);
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

async function publishFromAnotherProcess(userId: string, documentId: string, count: number) {
  const { stdout } = await run(
    process.execPath,
    ['tests/fixtures/publish-events.ts', userId, documentId, String(count)],
    {
      env: { ...process.env, EVENT_PREFIX: app.config.EVENT_PREFIX, REDIS_URL: app.config.REDIS_URL },
    },
  );
  const out = JSON.parse(stdout) as { pid: number; seqs: number[] };
  expect(out.pid).not.toBe(process.pid);
  return out.seqs;
}

describe('real-time events through Redis', () => {
  for (const transport of ['subscribeWs', 'subscribeSse'] as const) {
    it(`${transport}: receives events another process published, in order`, async () => {
      const client = app.client();
      const sub = client[transport](IngestProgressDocument, { documentId: 'doc-1', afterSeq: 0 });
      const seqs = await publishFromAnotherProcess(client.userId, 'doc-1', 3);
      const events = await sub.take(3);
      sub.close();
      expect(events.map((e) => e.errors)).toEqual([undefined, undefined, undefined]);
      expect(events.map((e) => e.data?.ingestProgress.seq)).toEqual(seqs);
      expect(events.map((e) => e.data?.ingestProgress.done)).toEqual([1, 2, 3]);
      expect(events.at(-1)?.data?.ingestProgress.stage).toBe('DONE');
    });
  }

  it('a client reconnecting with afterSeq gets exactly the events it missed, once', async () => {
    const client = app.client();
    const first = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    await publishFromAnotherProcess(client.userId, 'doc-2', 2);
    const seen = await first.take(2);
    first.close();
    const lastSeq = seen.at(-1)!.data!.ingestProgress.seq;

    // while disconnected, three more events happen
    const missed = await publishFromAnotherProcess(client.userId, 'doc-2', 3);
    const again = client.subscribeSse(IngestProgressDocument, { afterSeq: lastSeq });
    const replayed = await again.take(3);
    expect(replayed.map((e) => e.data?.ingestProgress.seq)).toEqual(missed);

    // live events continue after the replay, and nothing is delivered twice
    const live = await publishFromAnotherProcess(client.userId, 'doc-2', 1);
    const next = await again.next();
    expect(next.data?.ingestProgress.seq).toBe(live[0]);
    await new Promise((r) => setTimeout(r, 200));
    expect(again.received).toHaveLength(4);
    again.close();
  });

  it('numbers the events of many topics published in one turn per topic, in call order', async () => {
    const users = [app.newUserId(), app.newUserId()];
    // published without awaiting in between: they go out together, as one script call
    const pending = Array.from({ length: 6 }, (_, i) =>
      app.services.events.publish('ingest', users[i % 2]!, {
        documentId: `doc-${i}`,
        stage: 'QUEUED',
        done: i,
        total: 0,
        attempt: 0,
        error: null,
      }),
    );
    expect(await Promise.all(pending)).toEqual([1, 1, 2, 2, 3, 3]);
    for (const [u, user] of users.entries()) {
      const kept = await app.services.events.history('ingest', user!, 0);
      expect(kept.map((e) => [e.seq, e.done])).toEqual([
        [1, u],
        [2, u + 2],
        [3, u + 4],
      ]);
    }
  });

  it('one user never receives another user’s events', async () => {
    const alice = app.client();
    const bob = app.client();
    const bobSub = bob.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    await publishFromAnotherProcess(alice.userId, 'doc-a', 2);
    const bobSeqs = await publishFromAnotherProcess(bob.userId, 'doc-b', 1);
    const got = await bobSub.next();
    expect(got.data?.ingestProgress.documentId).toBe('doc-b');
    expect(got.data?.ingestProgress.seq).toBe(bobSeqs[0]);
    await new Promise((r) => setTimeout(r, 200));
    expect(bobSub.received).toHaveLength(1);
    bobSub.close();
  });
});
