import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { ChatModelRejectedError, ChatModelUnavailableError } from '../../ports/chat-model.ts';
import type { TextModel, TextModelAnswer, TextModelRequest } from '../../ports/text-model.ts';

export interface OpenAITextModelOptions {
  baseURL?: string;
  apiKey?: string;
  model: string;
  timeoutMs: number;
  /** Attempts the client adds on 408/429/5xx and connection errors, with backoff and Retry-After. */
  maxRetries: number;
}

/**
 * One-shot completions for the memory build (labels, entities, bio) from OpenAI or any compatible
 * server. Errors are the chat port's: `ChatModelRejectedError` for a 4xx (other than 408/429),
 * thrown without a retry; `ChatModelUnavailableError` once the client's retries are spent.
 */
export class OpenAITextModel implements TextModel {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(options: OpenAITextModelOptions) {
    this.name = options.model;
    this.client = new OpenAI({
      baseURL: options.baseURL,
      // local servers accept any key; the SDK refuses to start without one
      apiKey: options.apiKey ?? 'not-needed',
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
      fetch: noRetryOnRejection,
    });
  }

  async complete(request: TextModelRequest): Promise<TextModelAnswer> {
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        {
          model: this.name,
          messages: request.messages,
          stream: false,
          max_tokens: request.maxTokens,
          temperature: request.temperature ?? 0.2,
          ...(request.json ? { response_format: { type: 'json_object' as const } } : {}),
        },
        { signal: request.signal },
      );
    } catch (error) {
      throw classify(error);
    }
    const usage = completion.usage;
    return {
      text: completion.choices[0]?.message.content ?? '',
      usage: usage
        ? {
            promptTokens: usage.prompt_tokens,
            completionTokens: usage.completion_tokens,
            totalTokens: usage.total_tokens,
          }
        : null,
    };
  }
}

// The client also retries 409 and obeys a server's `x-should-retry`; a request the server refused
// (bad request, auth, unknown model) fails the same way every time, so it is marked final here.
const noRetryOnRejection: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (!isRejection(response.status)) return response;
  const headers = new Headers(response.headers);
  headers.set('x-should-retry', 'false');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
};

const isRejection = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 429;

// Upstream messages can echo request details: callers only ever see these fixed texts.
function classify(error: unknown): Error {
  if (error instanceof APIUserAbortError) return error;
  if (error instanceof APIConnectionTimeoutError)
    return new ChatModelUnavailableError('the text model timed out');
  if (error instanceof APIConnectionError)
    return new ChatModelUnavailableError('the text model is unreachable');
  if (error instanceof APIError && error.status !== undefined && isRejection(error.status)) {
    return new ChatModelRejectedError(
      `the text model rejected the request (HTTP ${error.status})`,
      error.status,
    );
  }
  if (error instanceof APIError) {
    return new ChatModelUnavailableError(`the text model failed (HTTP ${error.status ?? 'error'})`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
