// The extract pool's worker thread: format extraction (unzip, XML, PDF, HTML, chat JSON) and
// sentence splitting, the CPU-bound steps of ingest. Loaded by URL as a .ts file (Node 24 strips
// the types). An ExtractionError crosses the thread boundary as a plain Error, so it is returned.
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
