import type { NotFoundError } from '../errors.ts';
import { DomainError, InvalidInputError } from '../errors.ts';
import type { ReplayGapError } from '../ports/event-bus.ts';
import type { ReplyEvent, Sequenced } from '../ports/events.ts';
import { RateLimitedError, type RateLimits } from '../ports/rate-limits.ts';
import type { ChatService } from './chat.service.ts';
import { type ChatMessageRecord, newMessageId } from './chat-records.ts';
import type { TranscriptStore } from './transcripts.ts';
import type { TwinReplyService } from './twin-reply.service.ts';

// The twin behind an OpenAI-compatible door (issue 15): a completion is a sendMessage in a chat
// session of its own, so it takes the same quota, prompt, retrieval, model and worker as a chat
// reply. The request's earlier turns are written into that session first: they are the reply's
// history, and the conversation becomes a memory like any other chat.

export interface CompletionTurn {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface CompletionRequest {
  model: string;
  messages: readonly CompletionTurn[];
}

export interface StartedCompletion {
  sessionId: string;
  messageId: string;
  events: AsyncGenerator<Sequenced<ReplyEvent> | NotFoundError | ReplayGapError>;
}

export class UnknownModelError extends DomainError {
  readonly code = 'MODEL_NOT_FOUND';
  constructor(model: string) {
    super(`The model '${model}' does not exist or you do not have access to it.`);
  }
}

export interface OpenAICompatDeps {
  chats: ChatService;
  transcripts: TranscriptStore;
  replies: TwinReplyService;
  rateLimits: RateLimits;
}

export class OpenAICompatService {
  private readonly deps: OpenAICompatDeps;

  constructor(deps: OpenAICompatDeps) {
    this.deps = deps;
  }

  /** The model ids `userId` may ask for: `twin` and its spelled-out name `twin:{userId}`. */
  models(userId: string): string[] {
    return ['twin', `twin:${userId}`];
  }

  /** Starts the twin's reply to the last user turn; `events` streams it until it ends. */
  async start(userId: string, request: CompletionRequest, signal?: AbortSignal): Promise<StartedCompletion> {
    if (!this.models(userId).includes(request.model)) throw new UnknownModelError(request.model);
    const last = request.messages.at(-1);
    if (last?.role !== 'user') throw new InvalidInputError("the last message must be the user's question");
    // the twin speaks with its own system prompt: the client's system turns are not the person's words
    const history = request.messages
      .slice(0, -1)
      .filter(
        (m): m is CompletionTurn & { role: 'user' | 'assistant' } =>
          (m.role === 'user' || m.role === 'assistant') && m.content.trim() !== '',
      );
    const decision = await this.deps.rateLimits.consume(userId, 'reply');
    if (!decision.ok) throw new RateLimitedError('reply', decision.retryAfterMs);
    const session = await this.deps.chats.startChat(userId, null);
    if (history.length > 0) {
      const at = session.createdAt.toISOString();
      const messages: ChatMessageRecord[] = history.map((m) => ({
        id: newMessageId(session.id),
        role: m.role,
        content: m.content,
        createTime: at,
        ...(m.role === 'assistant' ? { status: 'complete' as const } : {}),
      }));
      await this.deps.transcripts.write(userId, {
        sessionId: session.id,
        title: null,
        summary: null,
        createTime: at,
        updateTime: at,
        messages,
      });
    }
    const sent = await this.deps.chats.sendMessage(userId, session.id, last.content);
    return {
      sessionId: session.id,
      messageId: sent.assistantMessageId,
      events: this.deps.replies.events(userId, sent.assistantMessageId, 0, signal),
    };
  }

  /** The client went away: its reply stops, as a cancelled one does. */
  async abandon(userId: string, messageId: string): Promise<void> {
    await this.deps.replies.cancel(userId, messageId);
  }
}
