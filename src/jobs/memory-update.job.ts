import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob } from './job.ts';

// L1 memory build of one user (MEMORY-TRAINING.md A): debounced after ingests and deletes, or
// asked for by rebuildMemory. The previous version stays served until this one is published.
export const memoryUpdateJob = defineJob({
  name: 'memory-update',
  queue: 'memory',
  payload: JOBS['memory-update'].payload,
  async handle(payload, ctx) {
    return ctx.services.memory.build(payload, ctx);
  },
  async onFinalFailure(payload, error, ctx) {
    await ctx.services.memory.buildFailed(payload, error, ctx);
  },
});
