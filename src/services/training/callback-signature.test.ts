import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { signTrainingCallback, verifyTrainingCallback } from './callback-signature.ts';

interface ValidVector {
  name: string;
  secret: string;
  timestamp: string;
  body: string;
  signature: string;
}
interface InvalidVector {
  name: string;
  secret: string;
  timestampHeader: string | null;
  signatureHeader: string | null;
  body: string;
  now: number;
  reason: 'malformed' | 'stale' | 'mismatch';
}
interface Vectors {
  toleranceSec: number;
  valid: ValidVector[];
  invalid: InvalidVector[];
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../contracts/callback-signature.vectors.json', import.meta.url), 'utf8'),
) as Vectors;

describe('training callback signature', () => {
  it('has vectors of every kind', () => {
    expect(vectors.valid.length).toBeGreaterThan(0);
    expect(new Set(vectors.invalid.map((v) => v.reason))).toEqual(
      new Set(['malformed', 'stale', 'mismatch']),
    );
  });

  for (const v of vectors.valid) {
    it(`signs and accepts: ${v.name}`, () => {
      expect(signTrainingCallback(v.secret, v.timestamp, v.body)).toBe(v.signature);
      expect(signTrainingCallback(v.secret, v.timestamp, Buffer.from(v.body, 'utf8'))).toBe(v.signature);
      const nowSec = Number(v.timestamp);
      const input = {
        secret: v.secret,
        timestampHeader: v.timestamp,
        signatureHeader: v.signature,
        body: v.body,
      };
      expect(verifyTrainingCallback({ ...input, nowSec })).toEqual({ ok: true });
      expect(verifyTrainingCallback({ ...input, nowSec: nowSec + vectors.toleranceSec })).toEqual({
        ok: true,
      });
    });
  }

  for (const v of vectors.invalid) {
    it(`rejects (${v.reason}): ${v.name}`, () => {
      const result = verifyTrainingCallback({
        secret: v.secret,
        timestampHeader: v.timestampHeader,
        signatureHeader: v.signatureHeader,
        body: v.body,
        nowSec: v.now,
        toleranceSec: vectors.toleranceSec,
      });
      expect(result).toEqual({ ok: false, reason: v.reason });
    });
  }

  it('honours a custom tolerance', () => {
    const v = vectors.valid[0];
    if (!v) throw new Error('no valid vector');
    const base = {
      secret: v.secret,
      timestampHeader: v.timestamp,
      signatureHeader: v.signature,
      body: v.body,
    };
    const nowSec = Number(v.timestamp) + 10;
    expect(verifyTrainingCallback({ ...base, nowSec, toleranceSec: 5 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyTrainingCallback({ ...base, nowSec, toleranceSec: 10 })).toEqual({ ok: true });
  });
});
