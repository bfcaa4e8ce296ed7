import { z } from 'zod';
import { ReplyReportedError, twinReplies } from '../services/chat/twin-reply.service.ts';
import { ChatModelRejectedError } from '../services/ports/chat-model.ts';
import { defineJob, PermanentJobError } from './job.ts';

const payload = z.object({
  userId: z.string().min(1),
  sessionId: z.string().uuid(),
  messageId: z.string().min(1),
  userMessage: z.object({
    id: z.string().min(1),
    role: z.literal('user'),
    content: z.string(),
    createTime: z.string(),
  }),
});

// One twin reply (DESIGN §6 Chat). The job id is the assistant message id, so cancelReply can
// find it. Retried only while no token has been published; after that a failure is final.
export const chatReplyJob = defineJob({
  name: 'chat-reply',
  queue: 'chat',
  payload,
  attempts: 3,
  async handle(request, ctx) {
    try {
      return await twinReplies(ctx.services).generate(request, ctx);
    } catch (error) {
      if (error instanceof ReplyReportedError) throw new ReplyAlreadyReported(error.message);
      if (error instanceof ChatModelRejectedError)
        throw new PermanentJobError(error.message, { cause: error });
      throw error;
    }
  },
  async onFinalFailure(request, error, ctx) {
    if (error instanceof ReplyAlreadyReported) return;
    const cause = error.cause instanceof Error ? error.cause : error;
    await twinReplies(ctx.services).reportFailure(request, cause);
  },
});

class ReplyAlreadyReported extends PermanentJobError {}
