// Port for the model that writes the twin's replies (DESIGN §6 Chat). Adapters stream text deltas
// and end with one `done`; aborting `signal` must abort the upstream request.

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatPassage {
  /** The number the prompt gives this source (`[1]`, `[2]`, …). */
  n: number;
  text: string;
  score: number;
}

export interface ChatModelRequest {
  /** Modal names the model after it (`twin:{userId}`): its inference service picks the GGUF. */
  userId: string;
  /**
   * A model other than the user's served one (`twin:{userId}@{runId}`, a candidate the evaluation
   * asks before promoting it); only the Modal adapter serves such names.
   */
  model?: string;
  messages: ChatTurn[];
  /** The user's question and the passages in the prompt, for adapters that answer without a model. */
  question: string;
  passages: ChatPassage[];
  maxTokens: number;
  temperature: number;
  signal: AbortSignal;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export type ChatModelChunk =
  | { type: 'token'; text: string }
  | { type: 'done'; model: string; finishReason: string; usage: ChatUsage | null };

export interface ChatModel {
  /** What the start-up log and `ReplyDone.model` call this backend when the server names no model. */
  readonly name: string;
  readonly kind: 'openai' | 'modal' | 'extractive';
  stream(request: ChatModelRequest): AsyncIterable<ChatModelChunk>;
}

/** The model could not be reached or answered with a server error: worth another attempt. */
export class ChatModelUnavailableError extends Error {}

/** The upstream answered with an error no retry can fix (bad request, auth): fail the reply at once. */
export class ChatModelRejectedError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}
