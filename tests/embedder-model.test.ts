import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { embedderChoice, embedderModelDir, parseConfig } from '../src/config.ts';
import { EmbedderDocument, SearchDocument } from '../src/sdk/generated/graphql.ts';
import { LocalHashEmbedder } from '../src/services/adapters/local/embedder.local.ts';
import {
  createLocalModelEmbedder,
  localModelInstalled,
  type MiniLmEmbedder,
} from '../src/services/adapters/local/embedder.minilm.ts';
import { ThreadedMiniLmEmbedder } from '../src/services/adapters/local/embedder.minilm-thread.ts';
import { reembedOnStart } from '../src/services/documents/reembed.service.ts';
import { cosineSimilarity } from '../src/services/ports/embedder.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';

// The embedded semantic default, all-MiniLM-L6-v2, the REAL model that scripts/embedder-model.sh
// installs (npm test runs it first): meaning, not word overlap; the same vector for a text however
// it is batched; and a switch to it never mixes its vectors with the hash embedder's.

const dir = embedderModelDir(parseConfig({ ...process.env, NODE_ENV: 'test' }));
const EDITOR = 'I switched my editor from Vim to Helix';
const QUESTION = 'Which text editor do you use these days?';
const UNRELATED = "Grandma's recipe for apple pie uses cinnamon and nutmeg.";
const TEXTS = [
  EDITOR,
  QUESTION,
  UNRELATED,
  'My half marathon time was 1:52:40 in Berlin.',
  '',
  'word '.repeat(600), // past the 256-token window: truncated, like sentence-transformers
];

let int8: MiniLmEmbedder;
let fp32: MiniLmEmbedder;
beforeAll(async () => {
  if (!localModelInstalled(dir))
    throw new Error(`the embedding model is not installed in ${dir}: run scripts/embedder-model.sh`);
  [int8, fp32] = await Promise.all([
    createLocalModelEmbedder(dir, { threads: 1 }),
    createLocalModelEmbedder(dir, { threads: 1, precision: 'fp32' }),
  ]);
});

describe('the embedded model (all-MiniLM-L6-v2)', () => {
  it('puts a paraphrase closer than an unrelated sentence, where the hash embedder cannot', async () => {
    for (const model of [int8, fp32]) {
      const [editor, question, unrelated] = await model.embed([EDITOR, QUESTION, UNRELATED]);
      const paraphrase = cosineSimilarity(editor!, question!);
      // sentence-transformers: 0.448 for the pair, 0.016 for the unrelated one
      expect(paraphrase).toBeGreaterThan(0.35);
      expect(paraphrase).toBeGreaterThan(cosineSimilarity(editor!, unrelated!) + 0.25);
    }
    // the two sentences share no word: the lexical fallback scores them near zero
    const hash = new LocalHashEmbedder();
    const [a, b] = await hash.embed([EDITOR, QUESTION]);
    expect(cosineSimilarity(a!, b!)).toBeLessThan(0.2);
  });

  it('gives a text the same unit vector every time, and (nearly, for int8) alone as in a batch', async () => {
    expect(int8.model).toBe('all-MiniLM-L6-v2-int8@384');
    expect(fp32.model).toBe('all-MiniLM-L6-v2@384');
    for (const model of [int8, fp32]) {
      const batch = await model.embed(TEXTS);
      const again = await model.embed(TEXTS);
      expect(again).toEqual(batch);
      const single = await Promise.all(TEXTS.map(async (t) => (await model.embed([t]))[0]!));
      for (let i = 0; i < TEXTS.length; i++) {
        expect(batch[i]).toHaveLength(384);
        expect(Math.hypot(...batch[i]!)).toBeCloseTo(1, 5);
        if (model === fp32) {
          const diff = Math.max(...batch[i]!.map((x, j) => Math.abs(x - single[i]![j]!)));
          expect(diff).toBeLessThanOrEqual(1e-6);
        } else if (TEXTS[i]) {
          // int8 scales activations over the batch: its neighbours move a vector slightly
          expect(cosineSimilarity(batch[i]!, single[i]!)).toBeGreaterThan(0.99);
        }
      }
    }
  });

  it('int8 stays within cosine 0.98 of fp32', async () => {
    const [a, b] = await Promise.all([int8.embed(TEXTS.slice(0, 4)), fp32.embed(TEXTS.slice(0, 4))]);
    for (let i = 0; i < a.length; i++) expect(cosineSimilarity(a[i]!, b[i]!)).toBeGreaterThan(0.98);
  });
});

describe('the embedded model in a thread of its own (EMBEDDER_OFF_LOOP, the default)', () => {
  let threaded: ThreadedMiniLmEmbedder;
  beforeAll(async () => {
    threaded = new ThreadedMiniLmEmbedder({ dir, threads: 1 });
    await threaded.ready();
  });
  afterAll(async () => {
    await threaded?.close();
  });

  it('gives the same vectors as the model on this thread, at a sliver of this thread’s CPU', async () => {
    const chunks = Array.from({ length: 32 }, (_, i) =>
      `Entry ${i}: the keeper logged the wind at dawn and at dusk, in a ledger bound with twine. `.repeat(4),
    );
    const spent = async (embed: () => Promise<number[][]>) => {
      const before = process.threadCpuUsage();
      const vectors = await embed();
      const cpu = process.threadCpuUsage(before);
      return { vectors, cpuMs: (cpu.user + cpu.system) / 1000 };
    };
    const here = await spent(() => int8.embed(chunks));
    const there = await spent(() => threaded.embed(chunks));
    expect(there.vectors).toEqual(here.vectors);
    // onnxruntime-node runs a session on the calling thread: in-thread, this thread does the work
    expect(there.cpuMs).toBeLessThan(here.cpuMs / 5);
  });

  it('embeds a question before the rest of an ingest batch queued ahead of it', async () => {
    for (const model of [int8, threaded]) {
      const order: string[] = [];
      // two session runs of 32 texts
      const batch = Array.from({ length: 64 }, (_, i) => `Chunk ${i} of a long upload. `.repeat(12));
      const ingest = model.embed(batch).then(() => order.push('batch'));
      // asked while the batch's first run holds the embedder (a run of 32 takes 100s of ms)
      await new Promise((r) => setTimeout(r, 50));
      const question = model.embed([QUESTION]).then(() => order.push('question'));
      await Promise.all([ingest, question]);
      expect(order).toEqual(['question', 'batch']);
    }
  });

  it('answers an abort at once, and goes on serving after it', async () => {
    const abort = new AbortController();
    const pending = threaded.embed(['word '.repeat(200)], abort.signal);
    abort.abort(new Error('the reply was cancelled'));
    await expect(pending).rejects.toThrow(/cancelled/);
    const [again] = await threaded.embed([EDITOR]);
    const [expected] = await int8.embed([EDITOR]);
    expect(again).toEqual(expected);
  });

  it('fails a missing model with the reason', async () => {
    const missing = new ThreadedMiniLmEmbedder({ dir: path.join(tmpdir(), 'no-model-here') });
    await expect(missing.ready()).rejects.toThrow(/not installed/);
    await missing.close();
  });
});

describe('EMBEDDER', () => {
  const choice = (env: Record<string, string>) =>
    embedderChoice(
      parseConfig({ ...process.env, NODE_ENV: 'test', OPENAI_API_KEY: '', OPENAI_BASE_URL: '', ...env }),
    );
  it('auto: the API when configured, else the model when installed, else the hash embedder saying why', () => {
    expect(choice({ EMBEDDER: 'auto', OPENAI_API_KEY: 'sk-test' }).kind).toBe('openai');
    expect(choice({ EMBEDDER: 'auto', EMBEDDER_MODEL_DIR: dir })).toEqual({ kind: 'local-model' });
    expect(choice({ EMBEDDER: 'auto', EMBEDDER_MODEL_DIR: '/nowhere' })).toMatchObject({
      kind: 'local-hash',
      reason: expect.stringContaining('not installed in /nowhere'),
    });
    expect(choice({ EMBEDDER: 'local', OPENAI_API_KEY: 'sk-test' }).kind).toBe('local-hash');
    expect(choice({ EMBEDDER: 'local-model', OPENAI_API_KEY: 'sk-test' }).kind).toBe('local-model');
    expect(() => choice({ EMBEDDER: 'minilm' })).toThrow(/EMBEDDER/);
  });
});

describe('Query.embedder and the switch to the model', () => {
  let apps: TestApp[] = [];
  afterEach(async () => {
    for (const app of apps) await app.close();
    apps = [];
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('names the model, or says why the lexical fallback stands in', async () => {
    const app = await startTestApp({ env: { EMBEDDER: 'auto', EMBEDDER_MODEL_DIR: dir } });
    apps.push(app);
    const info = await app.client().request(EmbedderDocument, {});
    expect(info.data!.embedder).toEqual({
      model: 'all-MiniLM-L6-v2-int8@384',
      dimensions: 384,
      kind: 'local-model',
      localFallback: false,
      fallbackReason: null,
    });
    const missing = path.join(tmpdir(), 'no-model-here');
    const fallback = await startTestApp({ env: { EMBEDDER: 'auto', EMBEDDER_MODEL_DIR: missing } });
    apps.push(fallback);
    expect(fallback.services.embedder).toMatchObject({ kind: 'local', model: 'local-hash-v1@384' });
    expect(fallback.services.embedder.fallbackReason).toContain(`not installed in ${missing}`);
    const res = await fallback.client().request(EmbedderDocument, {});
    expect(res.data!.embedder).toMatchObject({ kind: 'local', localFallback: true });
    expect(res.data!.embedder.fallbackReason).toContain('not installed');
  });

  it('re-embeds hash-embedded documents into the model’s own collection; search never mixes them', async () => {
    const env = {
      VECTOR_BACKEND: 'embedded',
      EMBEDDED_VECTOR_DIR: await mkdtemp(path.join(tmpdir(), 'twin-model-')),
    };
    const first = await startTestApp({ withWorkers: true, env: { ...env, EMBEDDER: 'local-hash' } });
    apps.push(first);
    const client = first.client();
    const doc = await uploadDocument(
      client,
      'editor.txt',
      `${EDITOR}. It starts faster and the keys make sense.`,
    );
    expect(await settled(client, doc.id)).toMatchObject({
      status: 'PROCESSED',
      embeddingModel: 'local-hash-v1@384',
    });
    await first.close();
    apps = [];

    const second = await startTestApp({
      withWorkers: true,
      env: {
        ...env,
        EMBEDDER: 'local-model',
        EMBEDDER_MODEL_DIR: dir,
        QUEUE_PREFIX: first.config.QUEUE_PREFIX,
        EVENT_PREFIX: first.config.EVENT_PREFIX,
      },
    });
    apps.push(second);
    const { services } = second;
    expect(services.embedder.model).toBe('all-MiniLM-L6-v2-int8@384');
    const client2 = second.client(client.userId);
    const vectorHits = async () => {
      const res = await client2.request(SearchDocument, { query: QUESTION, limit: 5 });
      const result = res.data!.search;
      if (result.__typename !== 'SearchResults') throw new Error(JSON.stringify(result));
      return result.data;
    };
    // nothing in the model's collection yet: no hash vector is ever compared with a model query
    expect(await services.vectors.countByDocument(client.userId, doc.id, services.embedder.model)).toBe(0);
    expect(
      await services.vectors.countByDocument(client.userId, doc.id, 'local-hash-v1@384'),
    ).toBeGreaterThan(0);

    await reembedOnStart({
      embedder: services.embedder,
      locks: services.locks,
      log: services.log,
      findStale: (model, limit, after) =>
        services.db.documents.listEmbeddedWithOtherModel(model, limit, after, { userId: client.userId }),
      reprocess: (user, id) => services.documents.reprocess(user, id),
    });
    const after = await settled(client2, doc.id);
    expect(after).toMatchObject({ status: 'PROCESSED', embeddingModel: 'all-MiniLM-L6-v2-int8@384' });
    // the paraphrased question finds the document, through the model's collection only
    const hits = await vectorHits();
    expect(hits[0]?.document.id).toBe(doc.id);
    expect(new Set(hits.map((h) => h.embeddingModel))).toEqual(new Set(['all-MiniLM-L6-v2-int8@384']));
    expect(await services.vectors.countByDocument(client.userId, doc.id, 'local-hash-v1@384')).toBe(0);
  });
});

describe('embedding spend with a paid API configured', () => {
  it('sends the API each chunk once and no sentence: chunk boundaries come from the local model', async () => {
    // a local stand-in for an OpenAI-compatible embeddings API, recording every input it is sent
    const inputs: string[] = [];
    const hash = new LocalHashEmbedder(64);
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const { input, model } = JSON.parse(body) as { input: string[]; model: string };
        inputs.push(...input);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            object: 'list',
            model,
            data: input.map((t, index) => ({ object: 'embedding', index, embedding: hash.embedOne(t) })),
            usage: { prompt_tokens: 0, total_tokens: 0 },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const app = await startTestApp({
      withWorkers: true,
      env: {
        EMBEDDER: 'auto',
        EMBEDDER_MODEL_DIR: dir,
        OPENAI_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
        OPENAI_API_KEY: 'test-key',
        EMBEDDING_MODEL: 'stand-in-embed',
        EMBEDDING_DIMENSIONS: '64',
        VECTOR_BACKEND: 'embedded',
        EMBEDDED_VECTOR_DIR: await mkdtemp(path.join(tmpdir(), 'twin-spend-')),
      },
    });
    try {
      expect(app.services.embedder).toMatchObject({ kind: 'openai', model: 'stand-in-embed@64' });
      const topics = ['the garden', 'my running', 'the new job', 'our trip to Porto'];
      const sentences = Array.from(
        { length: 48 },
        (_, i) =>
          `Sentence ${i} is about ${topics[Math.floor(i / 12)]}, and it goes on for a few more words.`,
      );
      const client = app.client();
      const doc = await uploadDocument(client, 'spend.txt', sentences.join(' '));
      const done = await settled(client, doc.id);
      expect(done).toMatchObject({ status: 'PROCESSED', embeddingModel: 'stand-in-embed@64' });
      expect(inputs.length).toBe(done.chunkCount);
      expect(inputs.length).toBeLessThan(sentences.length);
      for (const text of inputs) expect(sentences).not.toContain(text);
    } finally {
      await app.close();
      await new Promise((r) => server.close(r));
    }
  });
});
