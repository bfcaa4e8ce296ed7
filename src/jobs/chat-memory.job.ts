import { z } from 'zod';
import { memorizeChat } from '../services/chat/chat-memory.service.ts';
import { twinReplies } from '../services/chat/twin-reply.service.ts';
import { defineJob } from './job.ts';

// A chat session becomes a memory (DESIGN §6) when it goes idle (a delayed job re-armed by every
// exchange) or is ended: its transcript is ingested through L0 as a `chat` document.
export const chatMemoryJob = defineJob({
  name: 'chat-memory',
  queue: 'chat',
  payload: z.object({
    userId: z.string().min(1),
    sessionId: z.string().uuid(),
    reason: z.enum(['idle', 'ended']),
    exchanges: z.number().int().min(0),
  }),
  attempts: 3,
  async handle(request, ctx) {
    const outcome = await memorizeChat(ctx.services, twinReplies(ctx.services).chat, request);
    ctx.log.info({ sessionId: request.sessionId, reason: request.reason, ...outcome }, 'chat memorized');
    return outcome;
  },
});
