import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type OpenAIStandin, startOpenAIStandin } from '../../../../tests/helpers/openai-standin.ts';
import { OpenAITextModel } from '../../adapters/openai/text-model.openai.ts';
import { type ClusterToLabel, labelClusters } from './labels.ts';

let standin: OpenAIStandin;
let model: OpenAITextModel;

beforeAll(async () => {
  standin = await startOpenAIStandin();
  model = new OpenAITextModel({ baseURL: standin.url, model: 'labeler', timeoutMs: 5_000, maxRetries: 0 });
});
afterAll(() => standin.close());
beforeEach(() => {
  standin.requests.length = 0;
});

const cluster = (key: string, theme: string): ClusterToLabel => ({
  key,
  keywords: [theme, `${theme} trip`],
  representatives: Array.from(
    { length: 10 },
    (_, i) => `Excerpt ${i} of ${key} about ${theme}. ${'x'.repeat(900)}`,
  ),
});
const fallback = (key: string) => ({ label: `fallback ${key}`, summary: `keywords of ${key}` });
const good = JSON.stringify({
  label: 'Sailing trips',
  summary: 'Weekends sailing.',
  tags: ['Sailing', 'sea'],
});
const keyOf = (content: string) => /of (c\d+) about/.exec(content)?.[1];
const requestsFor = (key: string) =>
  standin.requests.filter((r) => keyOf(r.body.messages[1]!.content) === key);

describe('labelClusters', () => {
  it('uses a good JSON answer, asked for as JSON with 8 truncated excerpts and the keywords', async () => {
    standin.script = { complete: () => good };
    const result = await labelClusters(model, [cluster('c1', 'sailing')], { concurrency: 2, fallback });
    expect(result.labels.get('c1')).toEqual({
      label: 'Sailing trips',
      summary: 'Weekends sailing.',
      tags: ['sailing', 'sea'],
      source: 'llm',
    });
    expect(result).toMatchObject({ transportFailures: 0, invalidAnswers: 0, calls: 1 });
    const [request] = standin.requests;
    expect(request!.body.stream).toBeFalsy();
    expect(request!.body.response_format).toEqual({ type: 'json_object' });
    const prompt = request!.body.messages[1]!.content;
    expect(prompt).toContain('Keywords: sailing, sailing trip');
    expect(prompt).toContain('[8] Excerpt 7');
    expect(prompt).not.toContain('Excerpt 8');
    expect(prompt.length).toBeLessThan(8 * 620);
  });

  it('falls back to the keyword label after two malformed answers, with exactly two requests', async () => {
    standin.script = {
      complete: (body) => (keyOf(body.messages[1]!.content) === 'c2' ? '{"label": "Sail' : good),
    };
    const result = await labelClusters(model, [cluster('c1', 'sailing'), cluster('c2', 'cooking')], {
      concurrency: 2,
      fallback,
    });
    expect(result.labels.get('c2')).toEqual({
      label: 'fallback c2',
      summary: 'keywords of c2',
      tags: [],
      source: 'keywords',
    });
    expect(result.labels.get('c1')?.source).toBe('llm');
    expect(requestsFor('c2')).toHaveLength(2);
    expect(result).toMatchObject({ invalidAnswers: 1, transportFailures: 0 });
    // the second request quotes the bad answer and says what was wrong
    const retry = requestsFor('c2')[1]!.body.messages;
    expect(retry.at(-2)).toEqual({ role: 'assistant', content: '{"label": "Sail' });
    expect(retry.at(-1)!.content).toContain('not valid JSON');
  });

  it('uses the second answer when only the first is invalid', async () => {
    let n = 0;
    standin.script = { complete: () => (n++ === 0 ? JSON.stringify({ label: '', summary: 'x' }) : good) };
    const result = await labelClusters(model, [cluster('c1', 'sailing')], { concurrency: 1, fallback });
    expect(result.labels.get('c1')).toMatchObject({ label: 'Sailing trips', source: 'llm' });
    expect(standin.requests).toHaveLength(2);
    expect(standin.requests[1]!.body.messages.at(-1)!.content).toContain('label');
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    standin.script = {
      complete: async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 40));
        inFlight--;
        return good;
      },
    };
    const clusters = Array.from({ length: 7 }, (_, i) => cluster(`c${i}`, 'sailing'));
    const result = await labelClusters(model, clusters, { concurrency: 3, fallback });
    expect(peak).toBe(3);
    expect(standin.requests).toHaveLength(7);
    expect([...result.labels.values()].every((l) => l.source === 'llm')).toBe(true);
  });

  it('falls back on a server error and counts it', async () => {
    standin.script = {
      complete: (body) => (keyOf(body.messages[1]!.content) === 'c2' ? { status: 500 } : good),
    };
    const result = await labelClusters(model, [cluster('c1', 'sailing'), cluster('c2', 'cooking')], {
      concurrency: 1,
      fallback,
    });
    expect(result.labels.get('c2')?.source).toBe('keywords');
    expect(result.labels.get('c1')?.source).toBe('llm');
    expect(result.transportFailures).toBe(1);
    expect(result.firstError).toBe('the text model failed (HTTP 500)');
    expect(requestsFor('c2')).toHaveLength(1);
  });

  it('stops calling a model that is down after three failures in a row', async () => {
    standin.script = { complete: () => ({ status: 503 }) };
    const clusters = Array.from({ length: 6 }, (_, i) => cluster(`c${i}`, 'sailing'));
    const result = await labelClusters(model, clusters, { concurrency: 1, fallback });
    expect(standin.requests).toHaveLength(3);
    expect(result.transportFailures).toBe(6);
    expect([...result.labels.values()].every((l) => l.source === 'keywords')).toBe(true);
  });
});
