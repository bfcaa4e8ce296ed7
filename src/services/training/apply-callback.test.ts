import { describe, expect, it } from 'vitest';
import type { TrainingStatus } from '../ports/training-repository.ts';
import { applyCallback, artifactsOf, type CallbackBody, isPermanentFailure } from './apply-callback.ts';

// What one callback does to its run: the table of MEMORY-TRAINING.md C (duplicate and reordered
// events, events after the end, permanent vs retryable failures, cancelled runs).

const now = new Date('2026-01-01T00:00:00Z');
const run = {
  status: 'processing' as TrainingStatus,
  attempt: 1,
  lastSeq: 3,
  progress: 0.4,
  lossCurve: [{ step: 4, loss: 3 }],
  startedAt: now,
  totalSteps: 8,
  datasetPath: 'tenant/u/training_data/L2/r/training_inputs/dataset.json',
};
const ev = (e: Partial<CallbackBody>): CallbackBody => ({ runId: 'r', seq: 4, event: 'progress', ...e });
const apply = (body: CallbackBody, state: typeof run = run, attempt = 1) =>
  applyCallback(state, body, attempt, now, { maxAttempts: 3 });

describe('applyCallback', () => {
  it('applies a newer event: stage, step, loss, loss curve, monotonic progress', () => {
    const d = apply(ev({ seq: 4, stage: 'training', step: 8, totalSteps: 8, loss: 1.5 }));
    expect(d.kind).toBe('progress');
    if (d.kind !== 'progress') return;
    expect(d.patch).toMatchObject({ lastSeq: 4, stage: 'training', step: 8, loss: 1.5, progress: 0.85 });
    expect(d.patch.lossCurve).toEqual([
      { step: 4, loss: 3 },
      { step: 8, loss: 1.5 },
    ]);
    // a stage that maps lower never lowers progress
    const back = apply(ev({ seq: 5, stage: 'loading_data' }));
    expect(back.kind === 'progress' && back.patch.progress).toBe(0.4);
  });

  it.each([
    ['a duplicate or older seq', ev({ seq: 3 }), run, 1, 'stale-seq'],
    ['an event of another attempt (a zombie)', ev({ seq: 9 }), run, 2, 'other-attempt'],
    [
      'an event after completion',
      ev({ seq: 9 }),
      { ...run, status: 'completed' as const },
      1,
      'not-processing',
    ],
    [
      'an event of a cancelled run',
      ev({ seq: 9 }),
      { ...run, status: 'cancelled' as const },
      1,
      'not-processing',
    ],
    [
      'an event after a final failure',
      ev({ seq: 9, event: 'completed' }),
      { ...run, status: 'failed' as const },
      1,
      'not-processing',
    ],
  ])('ignores %s', (_name, body, state, attempt, reason) => {
    expect(apply(body, state, attempt)).toEqual({ kind: 'ignore', reason });
  });

  it('completes with the artifacts of the contract (files with sizes) and queues evaluation', () => {
    const d = apply(
      ev({
        event: 'completed',
        stage: 'completed',
        artifacts: {
          files: [
            { name: 'gguf_q8_0', key: 'tenant/u/lora/r/merged.q8_0.gguf', bytes: 10, quantization: 'q8_0' },
            { name: 'config', key: 'tenant/u/lora/r/training_config.json', bytes: 2, quantization: null },
          ],
          metrics: { steps: 8 },
        },
      }),
    );
    expect(d.kind).toBe('completed');
    if (d.kind !== 'completed') return;
    expect(d.patch).toMatchObject({
      status: 'completed',
      progress: 1,
      ggufPath: 'tenant/u/lora/r/merged.q8_0.gguf',
      evaluation: { status: 'pending' },
      metrics: { steps: 8, fileBytes: { gguf_q8_0: 10, config: 2 } },
    });
  });

  it('a retryable failure below the attempt limit names the next attempt', () => {
    const d = apply(ev({ event: 'failed', stage: 'training', error: 'CUDA out of memory', retryable: true }));
    expect(d).toMatchObject({
      kind: 'failed',
      retry: true,
      patch: { attempt: 2, lastSeq: 0, modalCallId: null },
    });
  });

  it('fails for good on the last attempt, or at once on a bad dataset', () => {
    const last = apply(ev({ event: 'failed', stage: 'training', error: 'boom' }), { ...run, attempt: 3 }, 3);
    expect(last).toMatchObject({ kind: 'failed', retry: false, patch: { status: 'failed', error: 'boom' } });
    const dataset = apply(
      ev({ event: 'failed', stage: 'loading_data', error: 'dataset.json record 0: bad', retryable: false }),
    );
    expect(dataset).toMatchObject({ kind: 'failed', retry: false, patch: { status: 'failed' } });
  });

  it('tells a dataset error without `retryable` (first contract revision) by its stage and words', () => {
    expect(
      isPermanentFailure(
        ev({ event: 'failed', stage: 'loading_data', error: 'dataset.json not found at s3://b/k' }),
      ),
    ).toBe(true);
    expect(
      isPermanentFailure(
        ev({ event: 'failed', stage: 'loading_data', error: 'EndpointConnectionError: S3' }),
      ),
    ).toBe(false);
  });

  it('reads the first revision artifacts map too', () => {
    expect(artifactsOf({ gguf_q8_0: 'k1', metrics: { ggufBytes: { gguf_q8_0: 5 } } })).toEqual({
      artifacts: { gguf_q8_0: 'k1' },
      bytes: { gguf_q8_0: 5 },
      metrics: { ggufBytes: { gguf_q8_0: 5 } },
    });
  });
});
