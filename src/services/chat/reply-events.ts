import type { RetrievedChunk } from '../documents/retrieval.service.ts';
import { ChatModelRejectedError, ChatModelUnavailableError } from '../ports/chat-model.ts';
import type { EventBus } from '../ports/event-bus.ts';
import type { ReplyEvent, Sequenced } from '../ports/events.ts';
import type { ChatMessageRecord, Citation } from './chat-records.ts';

// The events of one reply (`reply:{messageId}`) and the transcript records made from them.

export type ReplyEnd = Extract<ReplyEvent, { type: 'done' | 'failed' }>;

const PUBLISH_WINDOW = 256;

// Publishes in call order without waiting for each round trip: the event bus's connection
// pipelines commands in order, so seq order is token order; the window bounds memory.
export class ReplyPublisher {
  private pending: Promise<number>[] = [];
  private readonly events: EventBus;
  private readonly messageId: string;

  constructor(events: EventBus, messageId: string) {
    this.events = events;
    this.messageId = messageId;
  }

  async emit(event: ReplyEvent): Promise<void> {
    this.pending.push(this.events.publish('reply', this.messageId, event));
    if (this.pending.length >= PUBLISH_WINDOW) await this.drain();
  }

  async drain(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    await Promise.all(batch);
  }
}

export function toCitation(s: RetrievedChunk): Citation {
  return {
    documentId: s.documentId,
    chunkIndex: s.chunkIndex,
    s3Path: s.s3Path,
    charStart: s.charStart,
    charEnd: s.charEnd,
    page: s.page,
    score: s.score,
  };
}

export function describeFailure(error: unknown): string {
  if (error instanceof ChatModelRejectedError || error instanceof ChatModelUnavailableError)
    return error.message;
  return 'the reply could not be generated';
}

export function assistantRecord(
  ids: { messageId: string; userMessage: { id: string } },
  text: string,
  citations: Citation[],
  end: ReplyEnd,
): ChatMessageRecord {
  const base = {
    id: ids.messageId,
    role: 'assistant' as const,
    content: text,
    createTime: new Date().toISOString(),
    replyTo: ids.userMessage.id,
    citations,
  };
  if (end.type === 'failed') return { ...base, status: 'failed', error: end.error };
  return {
    ...base,
    status: end.finishReason === 'cancelled' ? 'cancelled' : 'complete',
    model: end.model,
    finishReason: end.finishReason,
    usage: end.usage,
  };
}

/**
 * A stored reply as events: its citations, the whole text as one token, its end. Given the topic's
 * `lastSeq` they are numbered as the live events were (citations first, the last token's seq, the
 * end's), so a client resuming after the events expired lands where it left off.
 */
export function replayStored(message: ChatMessageRecord, lastSeq = 0): Sequenced<ReplyEvent>[] {
  const events: ReplyEvent[] = [{ type: 'citations', sources: message.citations ?? [] }];
  if (message.content) events.push({ type: 'token', text: message.content, index: 0 });
  if (message.status === 'failed') events.push({ type: 'failed', error: message.error ?? 'failed' });
  else
    events.push({
      type: 'done',
      model: message.model ?? 'unknown',
      finishReason: message.finishReason ?? 'stop',
      usage: message.usage ?? null,
    });
  const last = Math.max(lastSeq, events.length);
  return events.map((e, i) => ({ ...e, seq: i === 0 ? 1 : last - (events.length - 1 - i) }));
}
