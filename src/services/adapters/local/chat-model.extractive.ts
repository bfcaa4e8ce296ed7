import type { ChatModel, ChatModelChunk, ChatModelRequest } from '../../ports/chat-model.ts';

export const EXTRACTIVE_MODEL = 'extractive-fallback';

const MAX_PASSAGES = 3;
const MAX_PASSAGE_CHARS = 600;

/**
 * The responder used when no chat model is configured: it says so, then quotes the best retrieved
 * passages with their source numbers. Tokens are whitespace-delimited words, like a model's deltas.
 */
export class ExtractiveChatModel implements ChatModel {
  readonly name = EXTRACTIVE_MODEL;
  readonly kind = 'extractive';

  async *stream(request: ChatModelRequest): AsyncIterable<ChatModelChunk> {
    const text = extractiveAnswer(request);
    for (const piece of text.match(/\s*\S+/g) ?? []) {
      if (request.signal.aborted) {
        yield { type: 'done', model: EXTRACTIVE_MODEL, finishReason: 'cancelled', usage: null };
        return;
      }
      yield { type: 'token', text: piece };
    }
    yield { type: 'done', model: EXTRACTIVE_MODEL, finishReason: 'stop', usage: null };
  }
}

export function extractiveAnswer(request: Pick<ChatModelRequest, 'passages'>): string {
  const best = [...request.passages].sort((a, b) => b.score - a.score).slice(0, MAX_PASSAGES);
  if (best.length === 0) {
    return 'No chat model is configured and nothing in your memory matches this question, so I have no answer yet.';
  }
  const quotes = best.map((p) => {
    const text = p.text.replace(/\s+/g, ' ').trim();
    const clipped = text.length > MAX_PASSAGE_CHARS ? `${text.slice(0, MAX_PASSAGE_CHARS)}…` : text;
    return `[${p.n}] ${clipped}`;
  });
  return `No chat model is configured, so here are the most relevant passages from your memory:\n\n${quotes.join('\n\n')}`;
}
