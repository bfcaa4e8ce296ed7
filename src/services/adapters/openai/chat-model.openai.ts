import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import {
  type ChatModel,
  type ChatModelChunk,
  ChatModelRejectedError,
  type ChatModelRequest,
  ChatModelUnavailableError,
  type ChatUsage,
} from '../../ports/chat-model.ts';

export interface OpenAIChatModelOptions {
  kind: 'openai' | 'modal';
  baseURL?: string;
  apiKey?: string;
  /**
   * A fixed model name, or (Modal) a function of the user: `twin:{userId}`, which the inference
   * service resolves to the user's promoted GGUF, else the base model (it 404s any other name).
   */
  model: string | ((userId: string) => string);
  timeoutMs: number;
}

// Statuses a retry cannot fix: the job fails the reply at once instead of burning attempts.
const REJECTED = new Set([400, 401, 403, 404, 422]);

/** OpenAI's chat completions API, Modal's llama.cpp endpoint and any OpenAI-compatible server. */
export class OpenAIChatModel implements ChatModel {
  readonly kind: 'openai' | 'modal';
  readonly name: string;
  private readonly client: OpenAI;
  private readonly model: OpenAIChatModelOptions['model'];

  constructor(options: OpenAIChatModelOptions) {
    this.kind = options.kind;
    this.model = options.model;
    this.name = typeof options.model === 'string' ? options.model : options.model('{userId}');
    this.client = new OpenAI({
      baseURL: options.baseURL,
      // local servers accept any key; the SDK refuses to start without one
      apiKey: options.apiKey ?? 'not-needed',
      timeout: options.timeoutMs,
      // the chat job owns retries (BullMQ attempts), and only before the first token
      maxRetries: 0,
    });
  }

  async *stream(request: ChatModelRequest): AsyncIterable<ChatModelChunk> {
    const model =
      request.model && this.kind === 'modal'
        ? request.model
        : typeof this.model === 'string'
          ? this.model
          : this.model(request.userId);
    let stream: Awaited<ReturnType<typeof this.open>>;
    try {
      stream = await this.open(model, request);
    } catch (error) {
      throw classify(error);
    }
    let finishReason: string | null = null;
    let usage: ChatUsage | null = null;
    let served = model;
    try {
      for await (const chunk of stream) {
        if (chunk.model) served = chunk.model;
        if (chunk.usage) {
          usage = {
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
            totalTokens: chunk.usage.total_tokens,
          };
        }
        const choice = chunk.choices[0];
        if (!choice) continue;
        const text = choice.delta?.content;
        if (text) yield { type: 'token', text };
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    } catch (error) {
      throw classify(error);
    }
    yield { type: 'done', model: served, finishReason: finishReason ?? 'stop', usage };
  }

  private open(model: string, request: ChatModelRequest) {
    return this.client.chat.completions.create(
      {
        model,
        messages: request.messages,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: request.maxTokens,
        temperature: request.temperature,
      },
      { signal: request.signal },
    );
  }
}

// Upstream messages can echo request details: callers only ever see these fixed texts.
function classify(error: unknown): Error {
  if (error instanceof APIUserAbortError) return error;
  if (error instanceof APIConnectionTimeoutError)
    return new ChatModelUnavailableError('the chat model timed out');
  if (error instanceof APIConnectionError)
    return new ChatModelUnavailableError('the chat model is unreachable');
  if (error instanceof APIError && error.status !== undefined && REJECTED.has(error.status)) {
    return new ChatModelRejectedError(
      `the chat model rejected the request (HTTP ${error.status})`,
      error.status,
    );
  }
  if (error instanceof APIError) {
    return new ChatModelUnavailableError(`the chat model failed (HTTP ${error.status ?? 'error'})`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
