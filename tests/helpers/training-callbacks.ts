import type { BlobStore } from '../../src/services/ports/blob-store.ts';
import { loraKeys } from '../../src/services/tenant-keys.ts';
import { signTrainingCallback } from '../../src/services/training/callback-signature.ts';

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

/**
 * Posts a callback to the API at `apiUrl` (its /graphql URL) as the trainer does: compact JSON with
 * the nullable fields present, signed over `${timestamp}.${body}` with `secret` (or `signature` as given).
 */
export async function postTrainingCallback(
  apiUrl: string,
  callbackUrl: string,
  event: Record<string, unknown>,
  options: { secret: string; timestamp?: number; signature?: string },
) {
  const body = JSON.stringify({
    step: null,
    totalSteps: null,
    loss: null,
    artifacts: null,
    error: null,
    retryable: null,
    ...event,
  });
  const ts = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const res = await fetch(apiUrl.replace(/\/graphql$/, '') + new URL(callbackUrl).pathname, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-twin-timestamp': ts,
      'x-twin-signature': options.signature ?? signTrainingCallback(options.secret, ts, body),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
