import type { AnyJobDefinition } from '../services/ports/job-queue.ts';
import { chatMemoryJob } from './chat-memory.job.ts';
import { chatReplyJob } from './chat-reply.job.ts';
import { ingestDocumentJob } from './ingest-document.job.ts';
import { memoryUpdateJob } from './memory-update.job.ts';

// Every background job, one file each. The worker serves exactly these; enqueue is typed by them.
export const jobs = [
  ingestDocumentJob,
  chatReplyJob,
  chatMemoryJob,
  memoryUpdateJob,
] as const satisfies readonly AnyJobDefinition[];

export type Jobs = typeof jobs;
