import { ReplyReportedError } from '../services/chat/twin-reply.service.ts';
import { ChatModelRejectedError } from '../services/ports/chat-model.ts';
import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob, PermanentJobError } from './job.ts';

// One twin reply (DESIGN §6 Chat). The job id is the assistant message id, so cancelReply can
// find it. Retried only while no token has been published; after that a failure is final.
export const chatReplyJob = defineJob({
  name: 'chat-reply',
  queue: 'chat',
  payload: JOBS['chat-reply'].payload,
  async handle(request, ctx) {
    try {
      return await ctx.services.replies.generate(request, ctx);
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
    await ctx.services.replies.reportFailure(request, cause);
  },
});

class ReplyAlreadyReported extends PermanentJobError {}
