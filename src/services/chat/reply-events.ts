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
    this.send(event);
    if (this.pending.length >= PUBLISH_WINDOW) await this.drain();
  }

  /** Queues the event now (its place in the topic is taken); a failure surfaces at `drain`. */
  send(event: ReplyEvent): void {
    const published = this.events.publish('reply', this.messageId, event);
    published.catch(() => undefined);
    this.pending.push(published);
  }

  get backlog(): number {
    return this.pending.length;
  }

  async drain(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    await Promise.all(batch);
  }
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/**
 * Token deltas coalesced over a window (DESIGN §7): a token that comes after a quiet window goes
 * out at once (the first token is never held back); the ones that follow within the window wait
 * for its end and go out as one `ReplyToken`, whose `index` is the token index of its first
 * token. A delta never ends inside a character: one whose text ends with the first half of a
 * surrogate pair waits for the next token. `windowMs` 0 publishes every token as it comes.
 */
export class DeltaCoalescer {
  private text = '';
  private first = 0;
  private held = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = Number.NEGATIVE_INFINITY;
  private readonly publisher: ReplyPublisher;
  private readonly windowMs: number;

  constructor(publisher: ReplyPublisher, windowMs: number) {
    this.publisher = publisher;
    this.windowMs = windowMs;
  }

  push(text: string, index: number): void {
    if (!this.held) {
      this.held = true;
      this.first = index;
      this.text = text;
    } else this.text += text;
    if (this.timer) return;
    const wait = this.lastSent + this.windowMs - performance.now();
    if (wait <= 0) this.flush(false);
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush(false);
      }, wait);
      this.timer.unref?.();
    }
  }

  /** Sends what is held, the end of the reply included (`final`: even half a character). */
  flush(final = true): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.held) return;
    if (!final && isHighSurrogate(this.text.charCodeAt(this.text.length - 1))) return;
    this.publisher.send({ type: 'token', text: this.text, index: this.first });
    this.held = false;
    this.text = '';
    this.lastSent = performance.now();
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
