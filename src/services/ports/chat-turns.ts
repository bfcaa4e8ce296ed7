// Port for the recent turns of each chat session, kept beside the transcript in a fast store so
// a reply does not wait on an object-storage read before it can build its prompt.

export interface RecentTurn {
  role: 'user' | 'assistant';
  content: string;
  status?: 'complete' | 'cancelled' | 'failed';
}

export interface ChatTurnCache {
  /** The session's recent turns, oldest first; null when unknown here (read the transcript). */
  read(sessionId: string): Promise<RecentTurn[] | null>;
  /** Replaces the session's window with these turns (the newest `max` of them). */
  write(sessionId: string, turns: readonly RecentTurn[]): Promise<void>;
  /**
   * The token of the session's transcript as last written (null when unknown): a process that
   * holds the transcript under the same token holds what storage has, and need not read it.
   */
  transcriptToken(sessionId: string): Promise<string | null>;
  /** Set to a fresh token before every transcript write, so every older copy stops matching. */
  setTranscriptToken(sessionId: string, token: string): Promise<void>;
  close(): Promise<void>;
}
