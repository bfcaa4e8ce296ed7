import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type OpenAIStandin, startOpenAIStandin } from '../../../../tests/helpers/openai-standin.ts';
import { OpenAITextModel } from '../../adapters/openai/text-model.openai.ts';
import { type DocumentToExtract, extractWithModel } from './entities.ts';

let standin: OpenAIStandin;
let model: OpenAITextModel;

beforeAll(async () => {
  standin = await startOpenAIStandin();
  model = new OpenAITextModel({ baseURL: standin.url, model: 'extractor', timeoutMs: 5_000, maxRetries: 0 });
});
afterAll(() => standin.close());
beforeEach(() => {
  standin.requests.length = 0;
});

const promptOf = (body: { messages: { content: string }[] }) => body.messages[1]!.content;
const chunkNumbersIn = (prompt: string) => [...prompt.matchAll(/\[chunk (\d+)\]/g)].map((m) => Number(m[1]));

const sailing: DocumentToExtract = {
  documentId: 'doc-sailing',
  chunks: [
    { index: 0, text: 'I sailed out of Gdańsk harbour on Saturday morning.' },
    { index: 1, text: 'My sister Anna Kowalski came along; Anna steered while I trimmed the sails.' },
    { index: 2, text: 'We joined the Baltic Regatta, run by the Yacht Club of Gdańsk.' },
  ],
};

const answer = {
  entities: [
    { name: 'Anna Kowalski', type: 'PERSON', description: 'The writer’s sister.', chunks: [1] },
    { name: 'Gdańsk', type: 'place', description: 'A harbour city.', chunks: [0, 2, 99] },
    { name: 'Baltic Regatta', type: 'race', description: 'A sailing race.', chunks: [2] },
    // invented: in no chunk
    { name: 'Maria Chen', type: 'person', description: 'A doctor.', chunks: [1] },
    // cited a chunk that does not name it
    { name: 'Yacht Club of Gdańsk', type: 'organization', description: '', chunks: [0] },
  ],
  relations: [
    { source: 'Anna Kowalski', target: 'Gdańsk', description: 'sailed from', strength: 7, chunks: [0, 1] },
    { source: 'Anna Kowalski', target: 'Maria Chen', description: 'friends', strength: 5, chunks: [1] },
    { source: 'Baltic Regatta', target: 'gdańsk', description: 'held near', strength: 42, chunks: [] },
  ],
};

describe('extractWithModel', () => {
  it('maps names, types and chunk numbers back, and drops what the chunks do not name', async () => {
    standin.script = { complete: () => JSON.stringify(answer) };
    const result = await extractWithModel(model, [sailing], { budgetChunks: 100, concurrency: 2 });
    expect(standin.requests).toHaveLength(1);
    const prompt = promptOf(standin.requests[0]!.body);
    expect(chunkNumbersIn(prompt)).toEqual([0, 1, 2]);
    expect(standin.requests[0]!.body.response_format).toEqual({ type: 'json_object' });

    const doc = result.extractions.get('doc-sailing')!;
    expect(doc.entities).toEqual([
      {
        name: 'Anna Kowalski',
        type: 'person',
        chunkIndexes: [1],
        mentions: 1,
        description: 'The writer’s sister.',
      },
      { name: 'Gdańsk', type: 'place', chunkIndexes: [0, 2], mentions: 2, description: 'A harbour city.' },
      {
        name: 'Baltic Regatta',
        type: 'concept',
        chunkIndexes: [2],
        mentions: 1,
        description: 'A sailing race.',
      },
    ]);
    expect(doc.relations).toEqual([
      {
        source: 'Anna Kowalski',
        target: 'Gdańsk',
        description: 'sailed from',
        weight: 7,
        chunkIndexes: [0, 1],
      },
      { source: 'Baltic Regatta', target: 'Gdańsk', description: 'held near', weight: 10, chunkIndexes: [2] },
    ]);
    expect(result).toMatchObject({ chunksSent: 3, failedBatches: 0, transportFailures: 0 });
  });

  it('sends at most `budgetChunks` chunks, whole documents in the given order', async () => {
    standin.script = { complete: () => JSON.stringify({ entities: [], relations: [] }) };
    const doc = (id: string, n: number, from: number): DocumentToExtract => ({
      documentId: id,
      chunks: Array.from({ length: n }, (_, i) => ({ index: i, text: `${id} chunk ${from + i}` })),
    });
    const result = await extractWithModel(model, [doc('a', 3, 0), doc('b', 3, 10), doc('c', 2, 20)], {
      budgetChunks: 5,
      concurrency: 2,
    });
    expect([...result.extractions.keys()]).toEqual(['a', 'c']);
    expect(result.chunksSent).toBe(5);
    const sent = standin.requests.map((r) => promptOf(r.body)).join('\n');
    expect(sent).not.toContain('b chunk');
    expect(sent).toContain('c chunk 21');
  });

  it('batches a document into ~batchTokens pieces, each numbered with its own chunks', async () => {
    standin.script = {
      complete: (body) => {
        const [first] = chunkNumbersIn(promptOf(body));
        const name = `Harbour${first}`;
        return JSON.stringify({ entities: [{ name, type: 'place', description: '', chunks: [first] }] });
      },
    };
    const long: DocumentToExtract = {
      documentId: 'long',
      chunks: Array.from({ length: 5 }, (_, i) => ({ index: i, text: `Harbour${i} ${'w'.repeat(160)}` })),
    };
    // 100 tokens ≈ 400 chars: two ~200-char chunks per batch
    const result = await extractWithModel(model, [long], {
      budgetChunks: 10,
      batchTokens: 100,
      concurrency: 1,
    });
    const batches = standin.requests.map((r) => chunkNumbersIn(promptOf(r.body)));
    expect(batches).toEqual([[0, 1], [2, 3], [4]]);
    expect(result.extractions.get('long')!.entities.map((e) => [e.name, e.chunkIndexes])).toEqual([
      ['Harbour0', [0]],
      ['Harbour2', [2]],
      ['Harbour4', [4]],
    ]);
  });

  it('yields nothing for a batch answered with malformed JSON twice, and counts it', async () => {
    standin.script = {
      complete: (body) =>
        chunkNumbersIn(promptOf(body))[0] === 0
          ? 'Sure! Here are the entities: Anna'
          : JSON.stringify({
              entities: [{ name: 'Baltic Regatta', type: 'event', description: '', chunks: [2] }],
              relations: [],
            }),
    };
    const result = await extractWithModel(model, [sailing], {
      budgetChunks: 10,
      batchTokens: 20,
      concurrency: 1,
    });
    const forFirst = standin.requests.filter((r) => chunkNumbersIn(promptOf(r.body))[0] === 0);
    expect(forFirst).toHaveLength(2);
    expect(result.failedBatches).toBe(1);
    const doc = result.extractions.get('doc-sailing')!;
    expect(doc.failedBatches).toBe(1);
    expect(doc.entities.map((e) => e.name)).toEqual(['Baltic Regatta']);
  });

  it('leaves a document out when the model is down, so the caller extracts it offline', async () => {
    standin.script = { complete: () => ({ status: 502 }) };
    const result = await extractWithModel(model, [sailing], { budgetChunks: 10, concurrency: 1 });
    expect(result.extractions.has('doc-sailing')).toBe(false);
    expect(result.transportFailures).toBe(1);
    expect(result.firstError).toBe('the text model failed (HTTP 502)');
  });
});
