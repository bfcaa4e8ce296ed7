import { PermanentIngestError } from '../services/documents/ingest/pipeline.ts';
import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob, JobCancelledError, PermanentJobError } from './job.ts';

// L0 ingest of one uploaded document (DESIGN §6). JOB_ATTEMPTS attempts with exponential backoff;
// unreadable files fail at once; the outcome of the last attempt lands in the row and the feed.
export const ingestDocumentJob = defineJob({
  name: 'ingest-document',
  queue: 'ingest',
  payload: JOBS['ingest-document'].payload,
  async handle(payload, ctx) {
    try {
      const outcome = await ctx.services.ingest({
        ...payload,
        jobId: ctx.jobId,
        attempt: ctx.attempt,
        signal: ctx.signal,
      });
      // memory follows, debounced: a burst of uploads makes one L1 build
      if (outcome.status === 'processed') await ctx.services.memory.scheduleUpdate(payload.userId, 'ingest');
      return outcome;
    } catch (error) {
      if (error instanceof PermanentIngestError) throw new PermanentJobError(error.message);
      throw error;
    }
  },
  async onFinalFailure(payload, error, ctx) {
    const message = error instanceof JobCancelledError ? 'ingest cancelled' : error.message;
    await ctx.services.documents.markFailed(
      payload.userId,
      payload.documentId,
      ctx.jobId,
      message,
      ctx.attempt,
    );
  },
});
