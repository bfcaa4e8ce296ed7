// The extract pool's worker thread: format extraction (unzip, XML, PDF, HTML, chat JSON) and
// sentence splitting, the CPU-bound steps of ingest. Loaded by URL as a .ts file (Node 24 strips
// the types). An ExtractionError crosses the thread boundary as a plain Error, so it is returned.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import { type Span, sentenceSpans } from './chunker.ts';
import { type Extracted, ExtractionError, extractText } from './extract.ts';

export interface ExtractTask {
  bytes: Uint8Array;
  filename: string;
  maxUncompressedBytes: number;
  maxTokens: number;
}

export type ExtractResult =
  | { ok: true; extracted: Extracted; spans: Span[] }
  | { ok: false; message: string };

// Below the event loop's priority: when both compete for a core (workers inside the API process,
// on a small machine), the scheduler runs the thread that answers requests first. Linux keeps a
// nice value per thread, and /proc/thread-self names this thread's id; elsewhere it stays as is.
const nice = (workerData as { nice?: number } | undefined)?.nice ?? 0;
if (nice > 0 && process.platform === 'linux') {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // not permitted here (a container's seccomp policy): the thread runs at the process's priority
  }
}

export default async function extract(task: ExtractTask): Promise<ExtractResult> {
  try {
    const extracted = await extractText(task.bytes, task.filename, {
      maxUncompressedBytes: task.maxUncompressedBytes,
    });
    return { ok: true, extracted, spans: sentenceSpans(extracted.text, task.maxTokens) };
  } catch (error) {
    if (error instanceof ExtractionError) return { ok: false, message: error.message };
    throw error;
  }
}
