import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob } from './job.ts';

// Evaluation of a completed run (MEMORY-TRAINING.md D) and, when it is not worse than the model
// served, its promotion.
export const evaluateModelJob = defineJob({
  name: 'evaluate-model',
  queue: 'train',
  payload: JOBS['evaluate-model'].payload,
  jobId: (p) => `evaluate-${p.runId}`,
  handle: (payload, ctx) => ctx.services.training.evaluateRun(payload, ctx),
  onFinalFailure: (payload, error, ctx) => ctx.services.training.evaluationFailed(payload, error),
});
