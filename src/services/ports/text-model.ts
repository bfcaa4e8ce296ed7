import type { ChatTurn, ChatUsage } from './chat-model.ts';

// Port for one-shot completions that build memory (MEMORY-TRAINING.md A2, A3, A5): labels,
// entity extraction and the biography. An OpenAI-compatible server when one is configured; with
// none, memory is built offline and says so (`labelSource`, `Bio.generatedBy`).

export interface TextModelRequest {
  messages: ChatTurn[];
  maxTokens: number;
  temperature?: number;
  /** Ask for a JSON object (`response_format: json_object`); the answer is still validated. */
  json?: boolean;
  signal?: AbortSignal;
}

export interface TextModelAnswer {
  text: string;
  usage: ChatUsage | null;
}

export interface TextModel {
  /** The model name, recorded in the snapshot manifest. */
  readonly name: string;
  complete(request: TextModelRequest): Promise<TextModelAnswer>;
}
