import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob } from './job.ts';

// A chat session becomes a memory (DESIGN §6) when it goes idle (a delayed job re-armed by every
// exchange) or is ended: its transcript is ingested through L0 as a `chat` document.
export const chatMemoryJob = defineJob({
  name: 'chat-memory',
  queue: 'chat',
  payload: JOBS['chat-memory'].payload,
  async handle(request, ctx) {
    const outcome = await ctx.services.chatMemory.memorize(request);
    ctx.log.info({ sessionId: request.sessionId, reason: request.reason, ...outcome }, 'chat memorized');
    return outcome;
  },
});
