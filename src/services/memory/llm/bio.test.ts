import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type OpenAIStandin, startOpenAIStandin } from '../../../../tests/helpers/openai-standin.ts';
import { OpenAITextModel } from '../../adapters/openai/text-model.openai.ts';
import { type BioInput, ungroundedWords, writeBioWithModel } from './bio.ts';

let standin: OpenAIStandin;
let model: OpenAITextModel;

beforeAll(async () => {
  standin = await startOpenAIStandin();
  model = new OpenAITextModel({ baseURL: standin.url, model: 'biographer', timeoutMs: 5_000, maxRetries: 0 });
});
afterAll(() => standin.close());
beforeEach(() => {
  standin.requests.length = 0;
});

const input: BioInput = {
  topics: [
    { label: 'Sailing trips', share: 0.6 },
    { label: 'Sourdough baking', share: 0.4 },
  ],
  excerpts: [
    'I sailed out of Gdańsk harbour with my sister Anna on the Baltic.',
    'I bake sourdough every Sunday; my starter is called Bubbles.',
  ],
  recentExcerpts: ['Last week I fixed the mainsail before the regatta.'],
  people: ['Anna'],
  places: ['Gdańsk'],
};

const grounded = {
  thirdPerson:
    'They write mostly about sailing from Gdańsk on the Baltic, often with their sister Anna. They also bake sourdough with a starter named Bubbles.',
  secondPerson: 'You write mostly about sailing from Gdańsk with Anna, and about baking sourdough.',
  status: 'Lately you have been repairing the mainsail before a regatta.',
};
const invented = {
  thirdPerson: 'She is a Doctor in Paris who sails from Gdańsk.',
  secondPerson: 'You are a Doctor in Paris.',
  status: 'You sail.',
};

describe('writeBioWithModel', () => {
  it('accepts a grounded answer, sending only the material', async () => {
    standin.script = { complete: () => JSON.stringify(grounded) };
    const bio = await writeBioWithModel(model, input);
    expect(bio).toEqual(grounded);
    expect(standin.requests).toHaveLength(1);
    const [system, user] = standin.requests[0]!.body.messages;
    expect(system!.content).toContain('Do not guess or mention their occupation, age');
    expect(user!.content).toContain('Sailing trips (60%)');
    expect(user!.content).toContain('[1] I sailed out of Gdańsk');
    expect(user!.content).toContain('Recent excerpts (last 30 days):\n[1] Last week');
    expect(standin.requests[0]!.body.response_format).toEqual({ type: 'json_object' });
  });

  it('rejects a profession and a city the excerpts never mention: asked again, then null', async () => {
    standin.script = { complete: () => JSON.stringify(invented) };
    const rejected: { kind: string; message: string }[] = [];
    const bio = await writeBioWithModel(model, input, { onRejected: (r) => rejected.push(r) });
    expect(bio).toBeNull();
    expect(standin.requests).toHaveLength(2);
    expect(standin.requests[1]!.body.messages.at(-1)!.content).toContain('Doctor, Paris');
    expect(rejected).toEqual([{ kind: 'invalid', message: expect.stringContaining('Doctor, Paris') }]);
  });

  it('takes the second answer when it is grounded', async () => {
    let n = 0;
    standin.script = { complete: () => JSON.stringify(n++ === 0 ? invented : grounded) };
    expect(await writeBioWithModel(model, input)).toEqual(grounded);
    expect(standin.requests).toHaveLength(2);
  });

  it('returns null and says why when the model is down', async () => {
    standin.script = { complete: () => ({ status: 503 }) };
    const rejected: { kind: string; message: string }[] = [];
    expect(await writeBioWithModel(model, input, { onRejected: (r) => rejected.push(r) })).toBeNull();
    expect(rejected).toEqual([{ kind: 'transport', message: 'the text model failed (HTTP 503)' }]);
  });
});

describe('ungroundedWords', () => {
  const known = new Set(['anna', 'gdańsk', 'bubbles']);
  it('skips sentence starts and common words, and flags unknown capitalised words', () => {
    expect(ungroundedWords('They sail. Often with Anna’s crew; I think Bubbles rises.', known)).toEqual([]);
    expect(ungroundedWords('You moved from Gdańsk to Berlin with Google.', known)).toEqual([
      'Berlin',
      'Google',
    ]);
    expect(ungroundedWords('"Sailing" is what they love.\nWeekends in Gdańsk.', known)).toEqual([]);
  });
});
