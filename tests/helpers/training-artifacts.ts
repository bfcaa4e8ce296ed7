import type { BlobStore } from '../../src/services/ports/blob-store.ts';
import { loraKeys } from '../../src/services/tenant-keys.ts';

/**
 * What a finished attempt leaves in the run's S3 folder (adapter, GGUFs, training_config.json),
 * as modal/ writes them, and the `artifacts` its `completed` callback names.
 */
export async function uploadRunArtifacts(blobs: BlobStore, userId: string, runId: string, attempt = 1) {
  const files = [
    { name: 'adapter', file: 'adapter.safetensors', body: `adapter of ${runId}` },
    { name: 'gguf_f16', file: 'merged.gguf', body: `GGUF f16 of ${runId}` },
    { name: 'gguf_q8_0', file: 'merged.q8_0.gguf', body: `GGUF q8_0 of ${runId}` },
    { name: 'config', file: 'training_config.json', body: JSON.stringify({ runId, attempt }) },
  ];
  for (const f of files) await blobs.put(userId, loraKeys.runFile(runId, f.file), f.body);
  return {
    files: files.map((f) => ({
      name: f.name,
      key: `tenant/${userId}/${loraKeys.runFile(runId, f.file)}`,
      bytes: Buffer.byteLength(f.body),
      quantization: f.name.startsWith('gguf_') ? f.name.slice(5) : null,
    })),
    metrics: { steps: 8, lossFirst: 5.9, lossLast: 1.2, device: 'cpu' },
  };
}
