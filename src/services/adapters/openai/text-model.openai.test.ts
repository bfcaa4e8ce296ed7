import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type OpenAIStandin, startOpenAIStandin } from '../../../../tests/helpers/openai-standin.ts';
import { ChatModelRejectedError, ChatModelUnavailableError } from '../../ports/chat-model.ts';
import { OpenAITextModel } from './text-model.openai.ts';

let standin: OpenAIStandin;

beforeAll(async () => {
  standin = await startOpenAIStandin();
});
afterAll(() => standin.close());
beforeEach(() => {
  standin.requests.length = 0;
});

const modelWith = (maxRetries: number) =>
  new OpenAITextModel({ baseURL: standin.url, model: 'm', timeoutMs: 5_000, maxRetries });
const ask = { messages: [{ role: 'user' as const, content: 'hello there' }], maxTokens: 50 };

describe('OpenAITextModel', () => {
  it('sends one non-streaming request and returns its text and usage', async () => {
    standin.script = { complete: () => '{"ok":true}' };
    const answer = await modelWith(0).complete({ ...ask, json: true });
    expect(answer).toEqual({
      text: '{"ok":true}',
      usage: { promptTokens: 3, completionTokens: 3, totalTokens: 6 },
    });
    const [request] = standin.requests;
    expect(request!.body).toMatchObject({
      model: 'm',
      max_tokens: 50,
      temperature: 0.2,
      response_format: { type: 'json_object' },
    });
    expect(request!.body.stream).toBeFalsy();
  });

  it('asks for plain text without `json`', async () => {
    standin.script = { complete: () => 'plain' };
    expect((await modelWith(0).complete({ ...ask, temperature: 0 })).text).toBe('plain');
    expect(standin.requests[0]!.body.response_format).toBeUndefined();
    expect(standin.requests[0]!.body.temperature).toBe(0);
  });

  it('leaves 5xx retries to the client, and gives up with ChatModelUnavailableError', async () => {
    standin.script = { complete: () => ({ status: 503 }) };
    await expect(modelWith(1).complete(ask)).rejects.toBeInstanceOf(ChatModelUnavailableError);
    expect(standin.requests).toHaveLength(2);
  });

  it('throws ChatModelRejectedError on a 4xx at once, without retries', async () => {
    standin.script = { complete: () => ({ status: 409 }) };
    const error = await modelWith(2)
      .complete(ask)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChatModelRejectedError);
    expect((error as ChatModelRejectedError).status).toBe(409);
    expect(standin.requests).toHaveLength(1);
  });

  it('aborts the request with the signal', async () => {
    standin.script = { complete: () => new Promise((r) => setTimeout(() => r('late'), 2_000)) };
    const controller = new AbortController();
    const pending = modelWith(0).complete({ ...ask, signal: controller.signal });
    await standin.waitForRequests(1);
    controller.abort();
    await expect(pending).rejects.toThrow(/abort/i);
  });
});
