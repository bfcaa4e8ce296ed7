import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { Locks } from '../ports/lock.ts';
import type { ChatSessionRow, ChatSessionsRepository } from '../ports/repositories.ts';
import { chatKeys, tenantKey } from '../tenant-keys.ts';
import {
  type ChatRecord,
  type ChatSessionView,
  type Exchange,
  newMessageId,
  SESSION_ID,
  sessionOfMessage,
  summarize,
  titleFrom,
} from './chat-records.ts';
import type { TranscriptStore } from './transcripts.ts';

// Chat sessions (DESIGN §3, §4): the row holds metadata only; the transcript lives in S3 and is
// written once per exchange. An idle session becomes a memory (chat-memory job).

export interface ChatDeps {
  sessions: ChatSessionsRepository;
  transcripts: TranscriptStore;
  queue: JobQueue;
  locks: Locks;
}

export interface ChatOptions {
  messageMaxChars: number;
  idleMs: number;
}

export class ChatService {
  private readonly deps: ChatDeps;
  private readonly options: ChatOptions;
  // sessions are never reassigned, so a confirmed owner can be remembered
  private readonly owners = new LRUCache<string, true>({ max: 50_000 });

  constructor(deps: ChatDeps, options: ChatOptions) {
    this.deps = deps;
    this.options = options;
  }

  async startChat(userId: string, title?: string | null): Promise<ChatSessionView> {
    const id = randomUUID();
    const now = new Date();
    const clean = title?.trim() ? titleFrom(title) : null;
    await this.deps.sessions.create({
      id,
      userId,
      title: clean,
      summary: null,
      createdAt: now,
      s3Path: tenantKey(userId, chatKeys.session(id)),
    });
    await this.deps.transcripts.write(
      userId,
      {
        sessionId: id,
        title: clean,
        summary: null,
        createTime: now.toISOString(),
        updateTime: now.toISOString(),
        messages: [],
      },
      { metadata: true },
    );
    this.owners.set(`${userId}\u0000${id}`, true);
    return { id, title: clean, summary: null, createdAt: now };
  }

  async getSession(userId: string, sessionId: string): Promise<ChatSessionView> {
    const row = SESSION_ID.test(sessionId) ? await this.deps.sessions.get(userId, sessionId) : null;
    if (!row) throw new NotFoundError('ChatSession', sessionId);
    this.owners.set(`${userId}\u0000${sessionId}`, true);
    return toView(row);
  }

  /** Throws NotFound unless `sessionId` is one of `userId`'s sessions. */
  async assertOwnsSession(userId: string, sessionId: string): Promise<void> {
    if (this.owners.has(`${userId}\u0000${sessionId}`)) return;
    await this.getSession(userId, sessionId);
  }

  /** The session of a message of `userId`'s; NotFound for anyone else's (or no) message. */
  async assertOwnsMessage(userId: string, messageId: string): Promise<string> {
    const sessionId = sessionOfMessage(messageId);
    if (!sessionId) throw new NotFoundError('ChatMessage', messageId);
    try {
      await this.assertOwnsSession(userId, sessionId);
    } catch (error) {
      if (error instanceof NotFoundError) throw new NotFoundError('ChatMessage', messageId);
      throw error;
    }
    return sessionId;
  }

  /** Newest first, keyset-paginated on (created_at, id), after a cursor this method issued. */
  async listSessions(
    userId: string,
    page: { after?: string; limit: number },
  ): Promise<{ cursor: string; node: ChatSessionView }[]> {
    const rows = await this.deps.sessions.list(
      userId,
      page.limit,
      page.after ? decodeCursor(page.after) : undefined,
    );
    return rows.map(toView).map((node) => ({ cursor: encodeCursor(node), node }));
  }

  /** The session's transcript, when the caller owns it. */
  async transcript(userId: string, sessionId: string): Promise<ChatRecord | null> {
    await this.assertOwnsSession(userId, sessionId);
    return this.deps.transcripts.read(userId, sessionId);
  }

  /** Validates a new user message and starts the reply; the transcript is written when it ends. */
  async sendMessage(userId: string, sessionId: string, content: string) {
    const text = content.trim();
    if (!text) throw new InvalidInputError('a message needs some text');
    if (text.length > this.options.messageMaxChars) {
      throw new InvalidInputError(`a message is limited to ${this.options.messageMaxChars} characters`);
    }
    await this.assertOwnsSession(userId, sessionId);
    const userMessage = {
      id: newMessageId(sessionId),
      role: 'user' as const,
      content: text,
      createTime: new Date().toISOString(),
    };
    const assistantMessageId = newMessageId(sessionId);
    await this.deps.queue.enqueue(
      'chat-reply',
      { userId, sessionId, messageId: assistantMessageId, userMessage },
      { jobId: assistantMessageId },
    );
    return { userMessage, assistantMessageId, sessionId };
  }

  /**
   * Appends one exchange under a per-session lock: two replies of one session finishing together
   * each read the other's write, so no exchange is lost. A retried job's second write is a no-op.
   */
  async recordExchange(userId: string, sessionId: string, exchange: Exchange): Promise<void> {
    const { transcripts } = this.deps;
    const count = await this.deps.locks.withLock(`chat-${sessionId}`, async () => {
      const chat =
        (await transcripts.takeHeld(sessionId)) ??
        (await transcripts.read(userId, sessionId)) ??
        (await this.emptyChat(userId, sessionId));
      if (chat.messages.some((m) => m.id === exchange.assistant.id)) return null;
      const n = chat.messages.filter((m) => m.role === 'assistant').length;
      const was = { title: chat.title, summary: chat.summary };
      chat.messages.push(exchange.user, exchange.assistant);
      chat.title ??= titleFrom(exchange.user.content);
      chat.summary = summarize(chat.messages);
      chat.updateTime = new Date().toISOString();
      // one object per exchange: metadata.json and processed/chat_{n}.txt (training material)
      // are written when the chat becomes a memory; the row only when its title or summary moved
      const moved = was.title !== chat.title || was.summary !== chat.summary;
      await Promise.all([
        transcripts.write(userId, chat),
        moved && this.deps.sessions.updateTitleSummary(userId, sessionId, chat.title, chat.summary),
      ]);
      return n + 1;
    });
    if (count !== null) await this.scheduleIdle(userId, sessionId, count);
  }

  /**
   * Re-arms the idle timer in one round trip: the session's delayed job is replaced by one for
   * the new exchange count (debounced by session); one added while a memory job runs waits for it.
   */
  private async scheduleIdle(userId: string, sessionId: string, exchanges: number): Promise<void> {
    await this.deps.queue.enqueue(
      'chat-memory',
      { userId, sessionId, reason: 'idle', exchanges },
      {
        jobId: idleJobId(sessionId, exchanges),
        delayMs: this.options.idleMs,
        debounceKey: `chatidle-${sessionId}`,
      },
    );
  }

  /** Ends a session now: its transcript becomes a memory without waiting for the idle timer. */
  async endChat(userId: string, sessionId: string): Promise<ChatSessionView> {
    const session = await this.getSession(userId, sessionId);
    const chat = await this.deps.transcripts.read(userId, sessionId);
    const exchanges = chat?.messages.filter((m) => m.role === 'assistant').length ?? 0;
    if (exchanges > 0) {
      await this.deps.queue.cancel('chat', idleJobId(sessionId, exchanges)).catch(() => false);
      await this.deps.queue.enqueue(
        'chat-memory',
        { userId, sessionId, reason: 'ended', exchanges },
        { jobId: `chatend-${sessionId}-${exchanges}` },
      );
    }
    return session;
  }

  /** Records the session's memory document; returns the one it replaces, if any. */
  async setMemoryDocument(
    userId: string,
    sessionId: string,
    documentId: string,
  ): Promise<string | undefined> {
    const { transcripts } = this.deps;
    return this.deps.locks.withLock(`chat-${sessionId}`, async () => {
      const chat = await transcripts.read(userId, sessionId);
      if (!chat || chat.memoryDocumentId === documentId) return undefined;
      const previous = chat.memoryDocumentId;
      chat.memoryDocumentId = documentId;
      await transcripts.write(userId, chat, { metadata: true });
      return previous;
    });
  }

  private async emptyChat(userId: string, sessionId: string): Promise<ChatRecord> {
    const session = await this.getSession(userId, sessionId);
    const at = session.createdAt.toISOString();
    return { sessionId, title: session.title, summary: null, createTime: at, updateTime: at, messages: [] };
  }
}

export function idleJobId(sessionId: string, exchanges: number): string {
  return `chatidle-${sessionId}-${exchanges}`;
}

function toView(row: ChatSessionRow): ChatSessionView {
  return { id: row.id, title: row.title, summary: row.summary, createdAt: row.createdAt };
}

export function encodeCursor(session: ChatSessionView): string {
  return Buffer.from(`${session.createdAt.toISOString()}|${session.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || Number.isNaN(Date.parse(at)) || !SESSION_ID.test(id))
    throw new InvalidInputError('after is not a cursor of this list: pass the endCursor of a previous page');
  return { createdAt: at, id };
}
