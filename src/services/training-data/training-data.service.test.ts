import { describe, expect, it } from 'vitest';
import { bioText, buildPrompt } from '../chat/prompt.ts';
import type { TextModel, TextModelRequest } from '../ports/text-model.ts';
import { l2Keys } from '../tenant-keys.ts';
import { probeIsPresent } from './abstention.ts';
import { fixture, TWIN_MARKER } from './fixture.test-helpers.ts';
import { unsourcedFacts, vocabulary } from './grounding.ts';
import type { Material } from './material.ts';
import type { TrainingRecord } from './records.ts';
import {
  DEFAULT_TRAINING_DATA_OPTIONS,
  generateTrainingData,
  NotEnoughMemoryError,
  type TrainingDataOptions,
} from './training-data.service.ts';

// L2 data from a fixed L1 version (MEMORY-TRAINING.md B "must assert"), through the pure core
// that prepareTrainingData writes out (tests/training-data.test.ts covers the storage side).

const OPTIONS: TrainingDataOptions = { ...DEFAULT_TRAINING_DATA_OPTIONS, minExamples: 10 };

const generate = (material: Material, extra: Partial<Parameters<typeof generateTrainingData>[1]> = {}) =>
  generateTrainingData(material, {
    runId: 'run-1',
    seed: 7,
    textModel: null,
    embedder: null,
    options: OPTIONS,
    ...extra,
  });

const answerOf = (r: TrainingRecord) => r.messages.at(-1)!.content.replace(/\s*(\[\d+\])+$/, '');

describe('L2 data, template generator', () => {
  it('gives a byte-identical dataset.json (and every other file) for the same L1 version and seed', async () => {
    const a = await generate(fixture().material);
    const b = await generate(fixture().material);
    expect([...a.files.keys()]).toEqual([...b.files.keys()]);
    for (const [key, body] of a.files) expect(b.files.get(key), key).toBe(body);
    expect(a.dataset.length).toBeGreaterThanOrEqual(10);
    const other = await generate(fixture().material, { seed: 8 });
    expect(other.files.get(l2Keys.dataset('run-1'))).not.toBe(a.files.get(l2Keys.dataset('run-1')));
  });

  it('writes every type, each record with its sources from that L1 version, generator and version', async () => {
    const { material } = fixture();
    const { dataset, counts } = await generate(material);
    const ids = new Set(material.snapshot.chunks.map((c) => c.chunkId));
    for (const type of ['preference', 'diversity', 'selfqa', 'abstention'] as const)
      expect(counts.byType[type] + counts.evalByType[type], type).toBeGreaterThan(0);
    for (const r of dataset) {
      expect(r.generator).toBe('template-v1');
      expect(r.l1Version).toBe('v-fixture');
      for (const id of [...r.sourceChunkIds, ...r.contextChunkIds]) expect(ids.has(id), id).toBe(true);
      if (r.type === 'preference' || r.type === 'diversity')
        expect(r.sourceChunkIds.length).toBeGreaterThan(0);
    }
  });

  it('states no name or number its sources, the bio or the question do not hold', async () => {
    const { material } = fixture();
    const { dataset, evalItems } = await generate(material);
    for (const r of dataset) {
      const allowed = vocabulary(
        material.bioText,
        r.messages[1]!.content,
        ...r.sourceChunkIds.map((id) => material.byId.get(id)!.text),
      );
      expect(unsourcedFacts(answerOf(r), allowed), answerOf(r)).toEqual([]);
    }
    // the numbers of the corpus do reach the data (so the check above had something to check)
    const all = [...dataset.map(answerOf), ...evalItems.map((e) => e.reference)].join(' ');
    expect(all).toMatch(/\b(4|25|12|10|2019|800|250|3)\b/);
  });

  it('keeps refusals ≥10% of the training set, on attributes and names the corpus truly lacks', async () => {
    const { material } = fixture();
    const { dataset, evalItems } = await generate(material);
    const refusals = dataset.filter((r) => r.type === 'abstention');
    expect(refusals.length / dataset.length).toBeGreaterThanOrEqual(0.1);
    expect(evalItems.some((e) => e.expect === 'abstain')).toBe(true);
    for (const r of refusals) {
      expect(answerOf(r)).toBe("I don't have that in my memories, so I won't guess.");
      expect(r.context).toBe('distractors');
      expect(r.contextChunkIds.length).toBeGreaterThan(0);
      expect(r.sourceChunkIds).toEqual([]);
    }
    const raw = JSON.parse((await generate(material)).files.get(l2Keys.raw('run-1', 'abstention'))!) as {
      user: string;
      probe: string;
    }[];
    for (const r of raw)
      expect(probeIsPresent(material, { ...r, type: 'abstention', question: r.user } as never), r.probe).toBe(
        false,
      );
  });

  it('never asks for an attribute the corpus mentions', async () => {
    const { material } = fixture();
    const birthday = {
      ...material,
      chunks: [
        { ...material.chunks[0]!, text: `${material.chunks[0]!.text} My birthday is in May.` },
        ...material.chunks.slice(1),
      ],
    };
    birthday.byId = new Map(birthday.chunks.map((c) => [c.id, c]));
    const { files } = await generate(birthday);
    const questions = (JSON.parse(files.get(l2Keys.raw('run-1', 'abstention'))!) as { user: string }[]).map(
      (r) => r.user,
    );
    expect(questions.join(' ')).not.toMatch(/birthday|date of birth/i);
  });

  it('shares no chunk between train and eval', async () => {
    const { dataset, evalItems } = await generate(fixture().material);
    expect(evalItems.length).toBeGreaterThan(0);
    const evalChunks = new Set(evalItems.flatMap((e) => e.sourceChunkIds));
    expect(evalChunks.size).toBeGreaterThan(0);
    for (const r of dataset)
      for (const id of [...r.sourceChunkIds, ...r.contextChunkIds])
        expect(evalChunks.has(id), id).toBe(false);
    const trainQuestions = new Set(dataset.map((r) => r.messages[1]!.content));
    for (const e of evalItems) expect(trainQuestions.has(e.question)).toBe(false);
  });

  it('uses the person’s chat turns, never the twin’s replies', async () => {
    const { material, files } = {
      material: fixture().material,
      files: (await generate(fixture().material)).files,
    };
    const chat = material.byId.get('doc-chat:0')!;
    expect(chat.text).toContain('I will take the sourdough starter along to Gdansk.');
    expect(chat.text).not.toContain(TWIN_MARKER);
    for (const [key, body] of files) {
      expect(body, key).not.toContain(TWIN_MARKER);
      expect(body, key).not.toContain('Kraków');
    }
  });

  it('writes the chat path’s system prompt: buildPrompt with the bio and the shown sources', async () => {
    const { material, snapshot } = fixture();
    const { dataset } = await generate(material);
    for (const r of dataset) {
      const expected = buildPrompt({
        bio: bioText(snapshot.bio),
        question: r.messages[1]!.content,
        sources: r.contextChunkIds.map((id, i) => {
          const c = material.byId.get(id)!;
          return { text: c.text, filename: c.filename, topic: c.topic, score: 1 - i * 0.05 };
        }),
        history: [],
        contextTokens: OPTIONS.contextTokens,
        historyTokens: OPTIONS.historyTokens,
      });
      expect(r.messages.slice(0, 2)).toEqual(expected.messages);
      expect(r.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
      if (r.context === 'rag') {
        const marks = [...r.messages[2]!.content.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
        expect(marks.length).toBeGreaterThan(0);
        for (const n of marks) expect(r.sourceChunkIds).toContain(r.contextChunkIds[n - 1]);
      }
      if (r.context === 'closed-book') expect(r.messages[0]!.content).toContain('(none match this question)');
    }
    const answerable = dataset.filter((r) => r.type !== 'abstention');
    const withSources = answerable.filter((r) => r.context === 'rag').length;
    expect(withSources / answerable.length).toBeGreaterThan(0.5);
    expect(withSources).toBeLessThan(answerable.length);
  });

  it('never cites a document deleted since the L1 version', async () => {
    const { material } = fixture({ deleted: ['doc-running'] });
    expect(material.chunks.some((c) => c.documentId === 'doc-running')).toBe(false);
    const { files } = await generate(material);
    for (const [key, body] of files) expect(body, key).not.toContain('doc-running:');
  });

  it('holds the caps: the example budget, ≤2 preference a cluster, ≤22 selfqa', async () => {
    const { counts } = await generate(fixture().material, {
      options: { ...OPTIONS, maxExamples: 15, minExamples: 3 },
    });
    expect(
      counts.train + counts.eval + counts.drops['split-overlap'] + counts.drops['eval-cap'],
    ).toBeLessThanOrEqual(15);
    expect(counts.drops.cap).toBeGreaterThan(0);
    const full = await generate(fixture().material);
    const preference = JSON.parse(full.files.get(l2Keys.raw('run-1', 'preference'))!) as {
      clusterId: string;
    }[];
    const perCluster = new Map<string, number>();
    for (const p of preference) perCluster.set(p.clusterId, (perCluster.get(p.clusterId) ?? 0) + 1);
    for (const n of perCluster.values()) expect(n).toBeLessThanOrEqual(2);
    expect(full.counts.byType.selfqa + full.counts.evalByType.selfqa).toBeLessThanOrEqual(22);
  });

  it('refuses memory too small to train on, with what it has and needs', async () => {
    const tiny = fixture({ themes: ['sailing'] }).material;
    const error = await generate(tiny).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotEnoughMemoryError);
    expect(error).toMatchObject({ code: 'NOT_ENOUGH_MEMORY', measure: 'chunks', have: 5, need: 6 });
    const few = await generate(fixture().material, { options: { ...OPTIONS, minExamples: 500 } }).catch(
      (e: unknown) => e,
    );
    expect(few).toMatchObject({ measure: 'examples', need: 500 });
  });
});

/** A model answering each of the generator's prompts, with one invented fact in the preference answers. */
function scriptedModel(
  answer: (request: TextModelRequest) => string,
): TextModel & { requests: TextModelRequest[] } {
  const requests: TextModelRequest[] = [];
  return {
    name: 'fake-llm',
    requests,
    async complete(request) {
      requests.push(request);
      return { text: answer(request), usage: null };
    },
  };
}

describe('L2 data, LLM generator', () => {
  it('keeps grounded answers, drops one with an invented number, and records the generator', async () => {
    const model = scriptedModel((request) => {
      const system = request.messages[0]!.content;
      const user = request.messages[1]!.content;
      if (system.includes('on one topic')) {
        const topic = /^Topic: (.*)$/m.exec(user)![1]!;
        return JSON.stringify({
          pairs: [
            { q: `Why do you like ${topic}?`, a: `I like ${topic} because it calms me.` },
            { q: `How long have you done ${topic}?`, a: `I have done ${topic} for 37 years.` },
          ],
        });
      }
      if (system.includes('mention one entity')) {
        const entity = /^Entity: (.*) \(/m.exec(user)![1]!;
        return JSON.stringify({
          pairs: [{ type: 'infoRecall', q: `What about ${entity}?`, a: `${entity} comes up in my notes.` }],
        });
      }
      const questions = [...user.matchAll(/^- (.*)$/gm)].map((m) => m[1]!);
      return JSON.stringify({
        answers: questions.map((q, i) => ({ q, a: i === 0 ? 'I write about sailing and baking.' : 'NONE' })),
      });
    });
    const { dataset, evalItems, counts, files } = await generate(fixture().material, {
      textModel: model,
      options: { ...OPTIONS, minExamples: 3 },
    });
    expect(model.requests.length).toBeGreaterThan(4);
    // the bio and the excerpts reach the preference prompt
    const preferencePrompt = model.requests.find((r) => r.messages[0]!.content.includes('on one topic'))!;
    expect(preferencePrompt.messages[1]!.content).toContain('Profile:');
    expect(preferencePrompt.messages[1]!.content).toContain('I sail with my friend Anna Kowalski');
    const all = [...dataset.map(answerOf), ...evalItems.map((e) => e.reference)];
    expect(all.some((a) => a.includes('because it calms me'))).toBe(true);
    expect(all.some((a) => a.includes('37 years'))).toBe(false);
    expect(counts.drops['unsourced-fact']).toBeGreaterThanOrEqual(4);
    expect(counts.drops.refusal).toBeGreaterThan(0);
    const preference = JSON.parse(files.get(l2Keys.raw('run-1', 'preference'))!) as {
      assistant: string;
      dropped: string;
    }[];
    expect(preference.find((p) => p.assistant.includes('37 years'))?.dropped).toBe('unsourced-fact');
    for (const r of dataset.filter((d) => d.type !== 'abstention')) expect(r.generator).toBe('llm:fake-llm');
  });

  it('falls back to the template, and says so per record, when the model is down', async () => {
    const model: TextModel = {
      name: 'down',
      complete: () => Promise.reject(new Error('connection refused')),
    };
    const { dataset, counts } = await generate(fixture().material, { textModel: model });
    expect(dataset.length).toBeGreaterThan(10);
    expect(counts.byGenerator['template-v1']).toBe(dataset.length);
    // after three transport failures in a row (and those already in flight) no more calls
    expect(counts.llm!.calls).toBeLessThanOrEqual(Math.max(3, OPTIONS.llmConcurrency));
    expect(counts.llm!.fallbacks).toBeGreaterThan(counts.llm!.calls);
  });
});
