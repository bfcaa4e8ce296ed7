// The embedded model's own thread (embedder.minilm-thread.ts): tokenising and the ONNX Runtime
// session run here, since onnxruntime-node runs a session on the calling thread and would hold
// the event loop for a whole batch. Requests are taken as they come and their session runs ordered
// by the embedder (the smallest call first); vectors go back packed in one Float32Array, moved
// rather than copied. Loaded by URL as a .ts file (Node 24 strips the types).
import { parentPort, workerData } from 'node:worker_threads';
import { MiniLmEmbedder, type MiniLmOptions } from './embedder.minilm.ts';

export type EmbedRequest = { id: number; texts: string[] };
export type EmbedReply =
  | { id: number; ok: true; vectors: Float32Array; dimensions: number }
  | { id: number; ok: false; message: string };

const port = parentPort!;
const model = new MiniLmEmbedder(workerData as MiniLmOptions);

port.on('message', async ({ id, texts }: EmbedRequest) => {
  let reply: EmbedReply;
  try {
    const packed = await model.embedPacked(texts);
    reply = { id, ok: true, vectors: packed, dimensions: model.dimensions };
    port.postMessage(reply, [packed.buffer]);
  } catch (error) {
    reply = { id, ok: false, message: (error as Error).message };
    port.postMessage(reply);
  }
});
