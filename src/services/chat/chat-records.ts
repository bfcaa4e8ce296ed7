import { randomBytes } from 'node:crypto';
import type { ReplyEvent } from '../ports/events.ts';

// The transcript's shapes (DESIGN §4 `chats/{sessionId}/messages.json`) and the pure helpers
// that name, title and summarize them.

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

export const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Message ids name their session (`{sessionId}.{random}`), so ownership is one session lookup. */
export function newMessageId(sessionId: string): string {
  return `${sessionId}.${randomBytes(9).toString('base64url')}`;
}

export function sessionOfMessage(messageId: string): string | null {
  const [sessionId, rest] = messageId.split('.', 2);
  return sessionId && rest && SESSION_ID.test(sessionId) && /^[A-Za-z0-9_-]{4,64}$/.test(rest)
    ? sessionId
    : null;
}

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
