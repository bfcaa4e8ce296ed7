import type { AnyJobDefinition } from '../services/ports/job-queue.ts';
import { chatMemoryJob } from './chat-memory.job.ts';
import { chatReplyJob } from './chat-reply.job.ts';
import { evaluateModelJob } from './evaluate-model.job.ts';
import { ingestDocumentJob } from './ingest-document.job.ts';
import { memoryUpdateJob } from './memory-update.job.ts';
import { prepareTrainingJob } from './prepare-training.job.ts';
import { submitTrainingJob } from './submit-training.job.ts';
import { trainWatchdogJob } from './train-watchdog.job.ts';

// Every background job, one file each. The worker serves exactly these; enqueue is typed by them.
export const jobs = [
  ingestDocumentJob,
  chatReplyJob,
  chatMemoryJob,
  memoryUpdateJob,
  prepareTrainingJob,
  submitTrainingJob,
  trainWatchdogJob,
  evaluateModelJob,
] as const satisfies readonly AnyJobDefinition[];

export type Jobs = typeof jobs;
