import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { BlobNotFoundError, type BlobStore } from '../ports/blob-store.ts';
import type { ChatTurnCache } from '../ports/chat-turns.ts';
import { chatKeys } from '../tenant-keys.ts';
import type { ChatMessageRecord, ChatRecord } from './chat-records.ts';

/** A transcript this process wrote last, under the token it was written with. */
interface HeldTranscript {
  token: string;
  chat: ChatRecord;
}

/**
 * Transcripts in S3 (`messages.json`, `metadata.json` beside it), with the copy this process wrote last
 * held in memory: the next exchange of a session starts from it instead of reading S3 back, as
 * long as the shared token says storage still has exactly that copy.
 */
export class TranscriptStore {
  private readonly blobs: BlobStore;
  private readonly turns: ChatTurnCache;
  private readonly held = new LRUCache<string, HeldTranscript>({
    maxSize: 64 * 1024 * 1024,
    sizeCalculation: ({ chat }) => chat.messages.reduce((n, m) => n + m.content.length + 512, 1024),
    ttl: 15 * 60_000,
  });

  constructor(deps: { blobs: BlobStore; chatTurns: ChatTurnCache }) {
    this.blobs = deps.blobs;
    this.turns = deps.chatTurns;
  }

  async read(userId: string, sessionId: string): Promise<ChatRecord | null> {
    try {
      const body = await this.blobs.get(userId, chatKeys.messages(sessionId));
      return JSON.parse(body.toString('utf8')) as ChatRecord;
    } catch (error) {
      if (error instanceof BlobNotFoundError) return null;
      throw error;
    }
  }

  /** Recent turns for a prompt: from the turn cache, else from the transcript. */
  async recentTurns(userId: string, sessionId: string): Promise<ChatMessageRecord[]> {
    const cached = await this.turns.read(sessionId);
    if (cached) return cached.map((t, i) => ({ id: String(i), createTime: '', ...t }));
    return (await this.read(userId, sessionId))?.messages ?? [];
  }

  /**
   * The transcript as this process last wrote it, when storage still has exactly that (its token
   * is current); taken out of the cache, so a failed write can never leave a changed copy there.
   * Call under the session's lock.
   */
  async takeHeld(sessionId: string): Promise<ChatRecord | null> {
    const held = this.held.get(sessionId);
    if (!held) return null;
    this.held.delete(sessionId);
    const token = await this.turns.transcriptToken(sessionId);
    return token === held.token ? held.chat : null;
  }

  /**
   * Drops this process's copy and makes every other process's stale (a fresh token), so a reply
   * still finishing after the session was deleted reads storage, finds nothing, and writes nothing.
   */
  async forget(sessionId: string): Promise<void> {
    this.held.delete(sessionId);
    await this.turns.setTranscriptToken(sessionId, randomBytes(12).toString('base64url'));
    await this.turns.write(sessionId, []);
  }

  /**
   * Writes messages.json (and the turn cache); then this process holds it. `metadata.json` (title,
   * summary, createTime) is written with it only when asked: at the start of a session and when it
   * becomes a memory, not after every exchange (DESIGN §4: one write per exchange); the live title
   * and summary are in `messages.json` and the session's row.
   */
  async write(userId: string, chat: ChatRecord, opts: { metadata?: boolean } = {}): Promise<void> {
    const { messages, ...metadata } = chat;
    const json = 'application/json';
    // a fresh token first: whatever happens to the write, no older copy matches any more
    const token = randomBytes(12).toString('base64url');
    this.held.delete(chat.sessionId);
    await this.turns.setTranscriptToken(chat.sessionId, token);
    await Promise.all([
      this.blobs.put(userId, chatKeys.messages(chat.sessionId), JSON.stringify(chat), { contentType: json }),
      opts.metadata &&
        this.blobs.put(
          userId,
          chatKeys.metadata(chat.sessionId),
          JSON.stringify({ ...metadata, messageCount: messages.length }, null, 2),
          { contentType: json },
        ),
      this.turns.write(chat.sessionId, chat.messages),
    ]);
    this.held.set(chat.sessionId, { token, chat });
  }
}
