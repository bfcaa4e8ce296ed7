// The embedded model's own thread (embedder.minilm-thread.ts): tokenising and the ONNX Runtime
// session run here, since onnxruntime-node runs a session on the calling thread and would hold
// the event loop for a whole batch. One request at a time, in order; vectors go back packed in one
// Float32Array, moved rather than copied. Loaded by URL as a .ts file (Node 24 strips the types).
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
    const vectors = await model.embed(texts);
    const packed = new Float32Array(vectors.length * model.dimensions);
    for (let i = 0; i < vectors.length; i++) packed.set(vectors[i]!, i * model.dimensions);
    reply = { id, ok: true, vectors: packed, dimensions: model.dimensions };
    port.postMessage(reply, [packed.buffer]);
  } catch (error) {
    reply = { id, ok: false, message: (error as Error).message };
    port.postMessage(reply);
  }
});
