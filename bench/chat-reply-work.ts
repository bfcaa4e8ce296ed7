// The per-reply part of the chat floor (`chat` bench): the work DESIGN requires of every reply
// whatever the code around it, measured alone — the question's hybrid retrieval (its embedding by
// the configured embedder, the vector and full-text queries, the passages' text by pointer) and
// the one transcript write per exchange (§4). No job queue, lock, prompt, events or row: the CPU
// it reports per reply, in this process and in each service, is a lower bound of what a reply
// costs. With `chat-floor`'s per-token chain it says how many streams the two cores can carry.
import { randomUUID } from 'node:crypto';
import pMap from 'p-map';
import type { Services } from '../src/container.ts';
import type { ChatMessageRecord, ChatRecord } from '../src/services/chat/chat-records.ts';
import { cpuDeltaMs, processCpuMs, serviceCpuMs } from './stats.ts';

export interface ReplyWork {
  replies: number;
  embedder: string;
  /** CPU ms per reply: this process (client libraries and the embedder) and each service. */
  cpuMsPerReply: Record<string, number>;
  totalCpuMsPerReply: number;
}

/** `replies` questions retrieved and transcripts written, `concurrency` at a time. */
export async function measureReplyWork(
  services: Services,
  userId: string,
  replies = 300,
  concurrency = 8,
): Promise<ReplyWork> {
  // a session of two exchanges, each a question and a 100-token answer citing five passages
  const exchange = (n: number, cited: ChatMessageRecord['citations']): ChatMessageRecord[] => {
    const at = new Date().toISOString();
    return [
      {
        id: `u${n}`,
        role: 'user',
        content: `Tell me about sailing and music, question ${n}`,
        createTime: at,
      },
      {
        id: `a${n}`,
        role: 'assistant',
        content: Array.from({ length: 100 }, (_, i) => ` t${i}@${17_000_000_000_000 + i}`).join(''),
        createTime: at,
        replyTo: `u${n}`,
        status: 'complete',
        model: 'bench-standin',
        finishReason: 'stop',
        citations: cited ?? [],
      },
    ];
  };
  const one = async (i: number) => {
    // a question of its own each time: nothing on the way may answer it from a cache
    const hits = await services.retrieval.retrieve(userId, `Tell me about sailing and music, question ${i}`);
    const citations = hits.map((h) => ({
      documentId: h.documentId,
      chunkIndex: h.chunkIndex,
      s3Path: h.s3Path,
      charStart: h.charStart,
      charEnd: h.charEnd,
      page: h.page,
      score: h.score,
    }));
    const at = new Date().toISOString();
    const chat: ChatRecord = {
      sessionId: randomUUID(),
      title: 'bench',
      summary: 'Asked about: sailing',
      createTime: at,
      updateTime: at,
      messages: [...exchange(2 * i, citations), ...exchange(2 * i + 1, citations)],
    };
    await services.transcripts.write(userId, chat);
  };
  await pMap(
    Array.from({ length: 20 }, (_, i) => -1 - i),
    one,
    { concurrency },
  ); // warm-up
  const before = { ...serviceCpuMs(), 'self:0': processCpuMs() };
  await pMap(
    Array.from({ length: replies }, (_, i) => i),
    one,
    { concurrency },
  );
  const used = cpuDeltaMs(before, { ...serviceCpuMs(), 'self:0': processCpuMs() });
  const perReply = Object.fromEntries(
    Object.entries(used).map(([k, ms]) => [k, Math.round((ms / replies) * 100) / 100]),
  );
  return {
    replies,
    embedder: services.embedder.model,
    cpuMsPerReply: perReply,
    totalCpuMsPerReply: Math.round((Object.values(used).reduce((a, b) => a + b, 0) / replies) * 100) / 100,
  };
}
