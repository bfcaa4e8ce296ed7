import { chatKeys } from '../tenant-keys.ts';
import type { ChatRecord, Exchange } from './chat-records.ts';

// A transcript's exchanges as training material (DESIGN §4 `processed/chat_{n}.txt`), for L2.

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
