import type { Logger } from '../../logger.ts';
import type { ChatModel, ChatModelChunk, ChatModelRequest } from '../ports/chat-model.ts';
import type { Embedder } from '../ports/embedder.ts';
import type { Metrics } from '../ports/metrics.ts';

// What embedding and chat calls cost, counted around the ports. Metrics carry no user label (one
// series per user is unbounded cardinality); a reply's tokens per user go to the log instead,
// where they can be summed per user without costing the metrics backend.

export function meteredEmbedder(inner: Embedder, metrics: Metrics): Embedder {
  return {
    get model() {
      return inner.model;
    },
    get dimensions() {
      return inner.dimensions;
    },
    get kind() {
      return inner.kind;
    },
    get fallbackReason() {
      return inner.fallbackReason;
    },
    ready: (signal) => inner.ready(signal),
    close: async () => {
      await inner.close?.();
    },
    async embed(texts, signal) {
      try {
        const vectors = await inner.embed(texts, signal);
        metrics.embeddingCall(inner.kind, texts.length, true);
        return vectors;
      } catch (error) {
        metrics.embeddingCall(inner.kind, texts.length, false);
        throw error;
      }
    },
  };
}

export function meteredChatModel(inner: ChatModel, metrics: Metrics, log: Logger): ChatModel {
  return {
    get name() {
      return inner.name;
    },
    get kind() {
      return inner.kind;
    },
    async *stream(request: ChatModelRequest): AsyncIterable<ChatModelChunk> {
      let ok = false;
      let usage: { promptTokens: number; completionTokens: number } | null = null;
      try {
        for await (const chunk of inner.stream(request)) {
          if (chunk.type === 'done') {
            ok = true;
            usage = chunk.usage;
          }
          yield chunk;
        }
      } finally {
        metrics.llmCall(inner.kind, ok, usage);
        if (usage)
          log.info(
            {
              userId: request.userId,
              backend: inner.kind,
              promptTokens: usage.promptTokens,
              completionTokens: usage.completionTokens,
            },
            'chat model usage',
          );
      }
    },
  };
}
