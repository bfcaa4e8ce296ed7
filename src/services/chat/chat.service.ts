import { randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Services } from '../../container.ts';
import { ChatSession, type IChatSession } from '../adapters/postgres/entities.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { BlobNotFoundError, tenantKey } from '../ports/blob-store.ts';
import type { ReplyEvent } from '../ports/events.ts';

// Chat sessions and their transcripts (DESIGN §3, §4): the row holds metadata only; the messages
// live in S3 under chats/{sessionId}/ in the Chat shape below, rewritten after every exchange.

export type Citation = Extract<ReplyEvent, { type: 'citations' }>['sources'][number];
export type ReplyUsage = Extract<ReplyEvent, { type: 'done' }>['usage'];

export interface ChatMessageRecord {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  createTime: string;
  /** Assistant turns: the user message answered, how the reply ended and what it cited. */
  replyTo?: string;
  status?: 'complete' | 'cancelled' | 'failed';
  model?: string;
  finishReason?: string;
  error?: string;
  usage?: ReplyUsage;
  citations?: Citation[];
}

/** `messages.json`: the seed's Chat (sessionId, title, summary, createTime) with its transcript. */
export interface ChatRecord {
  sessionId: string;
  title: string | null;
  summary: string | null;
  createTime: string;
  updateTime: string;
  /** The `chat` document this session was last memorized as. */
  memoryDocumentId?: string;
  messages: ChatMessageRecord[];
}

export interface ChatSessionView {
  id: string;
  title: string | null;
  summary: string | null;
  createdAt: Date;
}

export interface Exchange {
  user: ChatMessageRecord;
  assistant: ChatMessageRecord;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Message ids name their session (`{sessionId}.{random}`), so ownership is one session lookup. */
export function newMessageId(sessionId: string): string {
  return `${sessionId}.${randomBytes(9).toString('base64url')}`;
}

export function sessionOfMessage(messageId: string): string | null {
  const [sessionId, rest] = messageId.split('.', 2);
  return sessionId && rest && UUID.test(sessionId) && /^[A-Za-z0-9_-]{4,64}$/.test(rest) ? sessionId : null;
}

export const chatKeys = {
  metadata: (sessionId: string) => `chats/${sessionId}/metadata.json`,
  messages: (sessionId: string) => `chats/${sessionId}/messages.json`,
  processed: (sessionId: string, n: number) => `chats/${sessionId}/processed/chat_${n}.txt`,
  processedPrefix: (sessionId: string) => `chats/${sessionId}/processed/`,
};

export function titleFrom(content: string): string {
  const line = content.trim().split('\n')[0]!.replace(/\s+/g, ' ');
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/** An extractive summary: the user's questions, most recent last, within 280 characters. */
export function summarize(messages: readonly ChatMessageRecord[]): string | null {
  const asked = messages.filter((m) => m.role === 'user').map((m) => titleFrom(m.content));
  if (asked.length === 0) return null;
  const text = `Asked about: ${asked.join('; ')}`;
  return text.length > 280 ? `${text.slice(0, 279)}…` : text;
}

export function formatForTraining(exchange: Exchange): string {
  return `user: ${exchange.user.content.trim()}\nassistant: ${exchange.assistant.content.trim()}\n`;
}

/**
 * The transcript's exchanges as training files: `processed/chat_{n}.txt` for the n-th reply (0-based),
 * for every reply that has text and did not fail (a failed reply is no training material).
 */
export function trainingFiles(chat: ChatRecord): { key: string; text: string }[] {
  const byId = new Map(chat.messages.map((m) => [m.id, m]));
  const files: { key: string; text: string }[] = [];
  let n = 0;
  for (const assistant of chat.messages) {
    if (assistant.role !== 'assistant') continue;
    const index = n++;
    const user = assistant.replyTo ? byId.get(assistant.replyTo) : undefined;
    if (!user || assistant.status === 'failed' || !assistant.content.trim()) continue;
    files.push({
      key: chatKeys.processed(chat.sessionId, index),
      text: formatForTraining({ user, assistant }),
    });
  }
  return files;
}

/**
 * Transcripts this process wrote last, by session, under the token they were written with: the
 * next exchange of a session starts from here instead of reading messages.json back from S3.
 */
interface HeldTranscript {
  token: string;
  chat: ChatRecord;
}

const heldTranscripts = new WeakMap<Services, LRUCache<string, HeldTranscript>>();

function transcriptsOf(services: Services): LRUCache<string, HeldTranscript> {
  let held = heldTranscripts.get(services);
  if (!held) {
    held = new LRUCache<string, HeldTranscript>({
      maxSize: 64 * 1024 * 1024,
      sizeCalculation: ({ chat }) => chat.messages.reduce((n, m) => n + m.content.length + 512, 1024),
      ttl: 15 * 60_000,
    });
    heldTranscripts.set(services, held);
  }
  return held;
}

export class ChatService {
  private readonly services: Services;
  // sessions are never reassigned, so a confirmed owner can be remembered
  private readonly owners = new LRUCache<string, true>({ max: 50_000 });
  private readonly transcripts: LRUCache<string, HeldTranscript>;

  constructor(services: Services) {
    this.services = services;
    this.transcripts = transcriptsOf(services);
  }

  async startChat(userId: string, title?: string | null): Promise<ChatSessionView> {
    const id = randomUUID();
    const now = new Date();
    const clean = title?.trim() ? titleFrom(title) : null;
    const em = this.services.orm.em.fork();
    em.create(ChatSession, {
      id,
      userId,
      title: clean,
      summary: null,
      sessionS3Path: tenantKey(userId, `chats/${id}/`),
      createdAt: now,
      processedForTraining: false,
    });
    await em.flush();
    const chat: ChatRecord = {
      sessionId: id,
      title: clean,
      summary: null,
      createTime: now.toISOString(),
      updateTime: now.toISOString(),
      messages: [],
    };
    await Promise.all([this.writeChat(userId, chat), this.services.chatTurns.write(id, [])]);
    this.owners.set(`${userId}\u0000${id}`, true);
    return { id, title: clean, summary: null, createdAt: now };
  }

  async getSession(userId: string, sessionId: string): Promise<ChatSessionView> {
    if (!UUID.test(sessionId)) throw new NotFoundError('ChatSession', sessionId);
    const row = await this.services.orm.em.fork().findOne(ChatSession, { id: sessionId, userId });
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

  /** Newest first, keyset-paginated on (created_at, id). */
  async listSessions(userId: string, page: { after?: string; limit: number }): Promise<ChatSessionView[]> {
    const params: unknown[] = [userId];
    let where = 'user_id = ?';
    if (page.after) {
      params.push(...decodeCursor(page.after));
      where += ' AND (created_at, id) < (?::timestamptz, ?::uuid)';
    }
    const rows = await this.services.orm.em
      .getConnection()
      .execute<{ id: string; title: string | null; summary: string | null; created_at: Date }[]>(
        `SELECT id, title, summary, created_at FROM chat_sessions WHERE ${where}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
        [...params, page.limit],
      );
    return rows.map((r) => ({
      id: r.id,
      title: r.title,
      summary: r.summary,
      createdAt: new Date(r.created_at),
    }));
  }

  /** Recent turns for a prompt: from the turn cache, else from the transcript. */
  async recentTurns(userId: string, sessionId: string): Promise<ChatMessageRecord[]> {
    const cached = await this.services.chatTurns.read(sessionId);
    if (cached) return cached.map((t, i) => ({ id: String(i), createTime: '', ...t }));
    return (await this.readChat(userId, sessionId))?.messages ?? [];
  }

  async readChat(userId: string, sessionId: string): Promise<ChatRecord | null> {
    try {
      const body = await this.services.blobs.get(userId, chatKeys.messages(sessionId));
      return JSON.parse(body.toString('utf8')) as ChatRecord;
    } catch (error) {
      if (error instanceof BlobNotFoundError) return null;
      throw error;
    }
  }

  /** Validates a new user message and starts the reply; the transcript is written when it ends. */
  async sendMessage(userId: string, sessionId: string, content: string) {
    const text = content.trim();
    if (!text) throw new InvalidInputError('a message needs some text');
    if (text.length > this.services.config.CHAT_MESSAGE_MAX_CHARS) {
      throw new InvalidInputError(
        `a message is limited to ${this.services.config.CHAT_MESSAGE_MAX_CHARS} characters`,
      );
    }
    await this.assertOwnsSession(userId, sessionId);
    const userMessage = {
      id: newMessageId(sessionId),
      role: 'user' as const,
      content: text,
      createTime: new Date().toISOString(),
    };
    const assistantMessageId = newMessageId(sessionId);
    await this.services.queue.enqueue(
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
    const count = await this.services.locks.withLock(`chat-${sessionId}`, async () => {
      const chat =
        (await this.heldTranscript(sessionId)) ??
        (await this.readChat(userId, sessionId)) ??
        (await this.emptyChat(userId, sessionId));
      if (chat.messages.some((m) => m.id === exchange.assistant.id)) return null;
      const n = chat.messages.filter((m) => m.role === 'assistant').length;
      chat.messages.push(exchange.user, exchange.assistant);
      chat.title ??= titleFrom(exchange.user.content);
      chat.summary = summarize(chat.messages);
      chat.updateTime = new Date().toISOString();
      // processed/chat_{n}.txt (training material) is written when the chat becomes a memory
      await Promise.all([
        this.writeChat(userId, chat),
        this.services.chatTurns.write(sessionId, chat.messages),
        this.services.orm.em
          .getConnection()
          .execute(
            'UPDATE chat_sessions SET title = COALESCE(title, ?), summary = ? WHERE id = ? AND user_id = ?',
            [chat.title, chat.summary, sessionId, userId],
          ),
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
    const { queue, config } = this.services;
    await queue.enqueue(
      'chat-memory',
      { userId, sessionId, reason: 'idle', exchanges },
      {
        jobId: idleJobId(sessionId, exchanges),
        delayMs: config.CHAT_IDLE_MS,
        debounceKey: `chatidle-${sessionId}`,
      },
    );
  }

  /** Ends a session now: its transcript becomes a memory without waiting for the idle timer. */
  async endChat(userId: string, sessionId: string): Promise<ChatSessionView> {
    const session = await this.getSession(userId, sessionId);
    const chat = await this.readChat(userId, sessionId);
    const exchanges = chat?.messages.filter((m) => m.role === 'assistant').length ?? 0;
    if (exchanges > 0) {
      await this.services.queue.cancel('chat', idleJobId(sessionId, exchanges)).catch(() => false);
      await this.services.queue.enqueue(
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
    return this.services.locks.withLock(`chat-${sessionId}`, async () => {
      const chat = await this.readChat(userId, sessionId);
      if (!chat || chat.memoryDocumentId === documentId) return undefined;
      const previous = chat.memoryDocumentId;
      chat.memoryDocumentId = documentId;
      await this.writeChat(userId, chat);
      return previous;
    });
  }

  private async emptyChat(userId: string, sessionId: string): Promise<ChatRecord> {
    const session = await this.getSession(userId, sessionId);
    const at = session.createdAt.toISOString();
    return { sessionId, title: session.title, summary: null, createTime: at, updateTime: at, messages: [] };
  }

  /**
   * The transcript as this process last wrote it, when storage still has exactly that (its token
   * is current); taken out of the cache, so a failed write can never leave a changed copy there.
   * Call under the session's lock.
   */
  private async heldTranscript(sessionId: string): Promise<ChatRecord | null> {
    const held = this.transcripts.get(sessionId);
    if (!held) return null;
    this.transcripts.delete(sessionId);
    const token = await this.services.chatTurns.transcriptToken(sessionId);
    return token === held.token ? held.chat : null;
  }

  /** Writes messages.json and metadata.json; on success this process holds the transcript. */
  private async writeChat(userId: string, chat: ChatRecord): Promise<void> {
    const { messages, ...metadata } = chat;
    const json = 'application/json';
    // a fresh token first: whatever happens to the write, no older copy matches any more
    const token = randomBytes(12).toString('base64url');
    this.transcripts.delete(chat.sessionId);
    await this.services.chatTurns.setTranscriptToken(chat.sessionId, token);
    await Promise.all([
      this.services.blobs.put(userId, chatKeys.messages(chat.sessionId), JSON.stringify(chat, null, 2), {
        contentType: json,
      }),
      this.services.blobs.put(
        userId,
        chatKeys.metadata(chat.sessionId),
        JSON.stringify({ ...metadata, messageCount: messages.length }, null, 2),
        { contentType: json },
      ),
    ]);
    this.transcripts.set(chat.sessionId, { token, chat });
  }
}

export function idleJobId(sessionId: string, exchanges: number): string {
  return `chatidle-${sessionId}-${exchanges}`;
}

function toView(row: IChatSession): ChatSessionView {
  return { id: row.id, title: row.title ?? null, summary: row.summary ?? null, createdAt: row.createdAt };
}

export function encodeCursor(session: ChatSessionView): string {
  return Buffer.from(`${session.createdAt.toISOString()}|${session.id}`).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || Number.isNaN(Date.parse(at)) || !UUID.test(id))
    throw new InvalidInputError('invalid cursor');
  return [at, id];
}
