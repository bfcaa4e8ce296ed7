import { LRUCache } from 'lru-cache';
import type { Logger } from '../../logger.ts';
import type { RetrievalService } from '../documents/retrieval.service.ts';
import { NotFoundError } from '../errors.ts';
import { BlobNotFoundError, type BlobStore } from '../ports/blob-store.ts';
import { type ChatModel, ChatModelRejectedError } from '../ports/chat-model.ts';
import { type EventBus, ReplayGapError } from '../ports/event-bus.ts';
import type { ReplyEvent, Sequenced } from '../ports/events.ts';
import { type JobQueue, WorkerShutdownError } from '../ports/job-queue.ts';
import { chunkIdOf } from '../ports/memory.ts';
import { memoryKeys } from '../tenant-keys.ts';
import type { ChatService } from './chat.service.ts';
import type { ChatMessageRecord, Citation } from './chat-records.ts';
import { bioText, buildPrompt } from './prompt.ts';
import {
  assistantRecord,
  DeltaCoalescer,
  describeFailure,
  ReplyPublisher,
  replayStored,
  toCitation,
} from './reply-events.ts';
import type { TranscriptStore } from './transcripts.ts';

// The twin's replies (DESIGN §6 Chat): retrieve → prompt → stream tokens from the chat model →
// publish each one on `reply:{messageId}` → record the exchange. Runs in the `chat` worker.

export interface ReplyRequest {
  userId: string;
  sessionId: string;
  messageId: string;
  userMessage: ChatMessageRecord;
}

export interface ReplyContext {
  signal: AbortSignal;
  log: Logger;
}

/** A failure already published to subscribers and recorded: the job fails without retrying. */
export class ReplyReportedError extends Error {}

/** The reply reached its subscribers but not storage: the retry records it from its events. */
class ReplyStorageError extends Error {}

export interface TwinReplyDeps {
  chat: ChatService;
  transcripts: TranscriptStore;
  retrieval: RetrievalService;
  chatModel: ChatModel;
  events: EventBus;
  queue: JobQueue;
  blobs: BlobStore;
  /** Where L1 memory placed each passage: the prompt names the topic of every source. */
  memory: {
    placementOf(userId: string, chunkIds: readonly string[]): Promise<({ topicLabel: string } | null)[]>;
  };
}

export interface TwinReplyOptions {
  contextTokens: number;
  historyTokens: number;
  maxTokens: number;
  temperature: number;
  /** Tokens that follow one another within this window go out as one delta (DESIGN §7). */
  deltaWindowMs: number;
}

export class TwinReplyService {
  private readonly deps: TwinReplyDeps;
  private readonly options: TwinReplyOptions;
  private readonly bios = new LRUCache<string, { bio: string | null }>({ max: 10_000, ttl: 60_000 });

  constructor(deps: TwinReplyDeps, options: TwinReplyOptions) {
    this.deps = deps;
    this.options = options;
  }

  async generate(
    request: ReplyRequest,
    ctx: ReplyContext,
  ): Promise<{ finishReason: string; tokens: number }> {
    const { chatModel } = this.deps;
    const { options } = this;
    const publisher = new ReplyPublisher(this.deps.events, request.messageId);
    const deltas = new DeltaCoalescer(publisher, options.deltaWindowMs);
    let citations: Citation[] = [];
    let tokens = 0;
    let text = '';
    // stored before the end is announced: a client that saw ReplyDone finds it in the session
    const finish = async (event: Extract<ReplyEvent, { type: 'done' | 'failed' }>) => {
      if (tokens === 0) await publisher.emit({ type: 'citations', sources: citations });
      // every token received is in the text stored, so every one goes out before the end
      deltas.flush();
      let stored: unknown;
      try {
        await this.recordExchange(request, text, citations, event);
      } catch (error) {
        stored = error;
      }
      // subscribers get their ending either way; a failed write is retried from the retained events
      await publisher.emit(event);
      await publisher.drain();
      if (stored) throw new ReplyStorageError('the reply could not be stored', { cause: stored });
    };
    const timings = {
      queuedMs: Date.now() - Date.parse(request.userMessage.createTime),
      retrievalMs: 0,
      firstTokenMs: 0,
    };
    const began = performance.now();
    try {
      const [prior, sources, turns, bio] = await Promise.all([
        this.deps.events.history('reply', request.messageId, 0),
        this.deps.retrieval.retrieve(request.userId, request.userMessage.content, ctx.signal),
        this.deps.transcripts.recentTurns(request.userId, request.sessionId),
        this.bio(request.userId),
      ]);
      if (prior.length > 0) return await this.resume(request, prior);
      const placement = await this.deps.memory
        .placementOf(
          request.userId,
          sources.map((s) => chunkIdOf(s.documentId, s.chunkIndex)),
        )
        .catch(() => sources.map(() => null));
      const prompt = buildPrompt({
        bio,
        question: request.userMessage.content,
        sources: sources.map((s, i) => ({ ...s, topic: placement[i]?.topicLabel ?? null })),
        history: turns.filter((m) => m.status !== 'failed'),
        contextTokens: options.contextTokens,
        historyTokens: options.historyTokens,
      });
      citations = prompt.sources.map(toCitation);
      timings.retrievalMs = performance.now() - began;
      let done: Extract<ReplyEvent, { type: 'done' }> = {
        type: 'done',
        model: chatModel.name,
        finishReason: 'stop',
        usage: null,
      };
      for await (const chunk of chatModel.stream({
        userId: request.userId,
        messages: prompt.messages,
        question: request.userMessage.content,
        passages: prompt.sources.map((s) => ({ n: s.n, text: s.text, score: s.score })),
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        signal: ctx.signal,
      })) {
        if (chunk.type === 'done') {
          done = { type: 'done', model: chunk.model, finishReason: chunk.finishReason, usage: chunk.usage };
          continue;
        }
        if (tokens === 0) {
          timings.firstTokenMs = performance.now() - began;
          ctx.log.debug(timings, 'reply started');
          await publisher.emit({ type: 'citations', sources: citations });
        }
        deltas.push(chunk.text, tokens++);
        text += chunk.text;
        if (publisher.backlog >= 256) await publisher.drain();
      }
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
      await finish(done);
      return { finishReason: done.finishReason, tokens };
    } catch (error) {
      if (error instanceof ReplyStorageError) throw error;
      // a worker shutting down before the first token hands the reply to the next one unseen
      const handedBack = tokens === 0 && ctx.signal.reason instanceof WorkerShutdownError;
      if (ctx.signal.aborted && !handedBack) {
        // cancelled (cancelReply, or a shutdown after tokens went out): the partial reply is kept
        await finish({ type: 'done', model: chatModel.name, finishReason: 'cancelled', usage: null });
        return { finishReason: 'cancelled', tokens };
      }
      // before the first token a retry is invisible to subscribers; after it, it would repeat tokens
      if (tokens === 0 && !(error instanceof ChatModelRejectedError)) throw error;
      const message = describeFailure(error);
      ctx.log.warn({ err: error, tokens }, 'reply failed');
      await finish({ type: 'failed', error: message });
      throw new ReplyReportedError(message);
    }
  }

  /**
   * A reply that already published events was delivered twice (a worker died, or storing it
   * failed): record it from the retained events; one cut short ends as failed, never restarts.
   */
  private async resume(request: ReplyRequest, prior: Sequenced<ReplyEvent>[]) {
    const text = prior.map((e) => (e.type === 'token' ? e.text : '')).join('');
    // a delta may hold several tokens: the last one's index is a lower bound of the count
    const lastDelta = prior.findLast((e) => e.type === 'token');
    const tokens = lastDelta ? lastDelta.index + 1 : 0;
    const citations = prior.find((e) => e.type === 'citations')?.sources ?? [];
    let end = prior.find((e) => e.type === 'done' || e.type === 'failed') as
      | Extract<ReplyEvent, { type: 'done' | 'failed' }>
      | undefined;
    const interrupted = !end;
    end ??= { type: 'failed', error: 'the reply was interrupted' };
    await this.recordExchange(request, text, citations, end);
    if (interrupted) await this.deps.events.publish('reply', request.messageId, end);
    return { finishReason: end.type === 'done' ? end.finishReason : 'failed', tokens };
  }

  private recordExchange(
    request: ReplyRequest,
    text: string,
    citations: Citation[],
    end: Extract<ReplyEvent, { type: 'done' | 'failed' }>,
  ) {
    return this.deps.chat.recordExchange(request.userId, request.sessionId, {
      user: request.userMessage,
      assistant: assistantRecord(request, text, citations, end),
    });
  }

  /** The job's last attempt failed before any token: tell subscribers and keep the question. */
  async reportFailure(request: ReplyRequest, error: Error): Promise<void> {
    if (error instanceof ReplyReportedError) return;
    const prior = await this.deps.events.history('reply', request.messageId, 0);
    if (prior.length > 0) {
      await this.resume(request, prior);
      return;
    }
    const event: Extract<ReplyEvent, { type: 'failed' }> = { type: 'failed', error: describeFailure(error) };
    try {
      await this.recordExchange(request, '', [], event);
    } finally {
      await this.deps.events.publish('reply', request.messageId, { type: 'citations', sources: [] });
      await this.deps.events.publish('reply', request.messageId, event);
    }
  }

  /** Stops a reply of the caller's: a queued one is dropped, a running one aborted upstream. */
  async cancel(userId: string, messageId: string): Promise<boolean> {
    await this.deps.chat.assertOwnsMessage(userId, messageId);
    const job = await this.deps.queue.get('chat', messageId);
    if (!job || !['waiting', 'delayed', 'active'].includes(job.state)) return false;
    // a reply that has published its end is only recording itself: nothing left to stop
    const retained = await this.deps.events.history('reply', messageId, 0);
    if (retained.some((e) => e.type === 'done' || e.type === 'failed')) return false;
    const cancelled = await this.deps.queue.cancel('chat', messageId);
    // a job removed before it ran publishes nothing itself
    if (cancelled && job.state !== 'active') {
      await this.deps.events.publish('reply', messageId, { type: 'citations', sources: [] });
      await this.deps.events.publish('reply', messageId, {
        type: 'done',
        model: this.deps.chatModel.name,
        finishReason: 'cancelled',
        usage: null,
      });
    }
    return cancelled;
  }

  /**
   * Every event of a reply of the caller's after `afterSeq` (from the start when omitted), live
   * until it ends. Once the retained events have expired, the stored reply is replayed instead,
   * under the seqs its events had; a resume from a point no longer retained gets a ReplayGapError.
   */
  async *events(
    userId: string,
    messageId: string,
    afterSeq: number | undefined,
    signal?: AbortSignal,
  ): AsyncGenerator<Sequenced<ReplyEvent> | NotFoundError | ReplayGapError> {
    let sessionId: string;
    try {
      sessionId = await this.deps.chat.assertOwnsMessage(userId, messageId);
    } catch (error) {
      if (error instanceof NotFoundError) {
        yield error;
        return;
      }
      throw error;
    }
    const after = afterSeq ?? 0;
    // both at once: a subscriber usually arrives before the first event, so the job's
    // state is needed more often than not
    const [retained, job] = await Promise.all([
      this.deps.events.history('reply', messageId, 0),
      this.deps.queue.get('chat', messageId),
    ]);
    if (retained.length === 0) {
      if (!job || job.state === 'completed' || job.state === 'failed') {
        const [stored, lastSeq] = await Promise.all([
          this.deps.transcripts.read(userId, sessionId),
          this.deps.events.lastSeq('reply', messageId),
        ]);
        const message = stored?.messages.find((m) => m.id === messageId && m.role === 'assistant');
        if (!message) {
          yield new NotFoundError('ChatMessage', messageId);
          return;
        }
        const replay = replayStored(message, lastSeq);
        // the stored text is one token: a client that saw some of the tokens cannot get just the rest
        const text = replay.find((e) => e.type === 'token');
        if (text && after > 1 && after < text.seq) {
          yield new ReplayGapError(after, text.seq);
          return;
        }
        for (const event of replay) if (event.seq > after) yield event;
        return;
      }
    }
    try {
      for await (const event of this.deps.events.subscribe('reply', messageId, {
        afterSeq: after,
        signal,
      })) {
        yield event;
        if (event.type === 'done' || event.type === 'failed') return;
      }
    } catch (error) {
      if (!(error instanceof ReplayGapError)) throw error;
      yield error;
    }
  }

  private async bio(userId: string): Promise<string | null> {
    const cached = this.bios.get(userId);
    if (cached) return cached.bio;
    let bio: string | null = null;
    try {
      bio = bioText(JSON.parse((await this.deps.blobs.get(userId, memoryKeys.bio())).toString('utf8')));
    } catch (error) {
      if (!(error instanceof BlobNotFoundError) && !(error instanceof SyntaxError)) throw error;
    }
    this.bios.set(userId, { bio });
    return bio;
  }
}
