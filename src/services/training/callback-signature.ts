import { createHmac, timingSafeEqual } from 'node:crypto';

// Signature of a Modal training callback (DESIGN §8). Must match modal/twin_gpu/callbacks.py;
// both sides are tested against contracts/callback-signature.vectors.json.

export const SIGNATURE_PREFIX = 'v1=';
export const DEFAULT_TOLERANCE_SEC = 300;

export type VerifyResult = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

export interface VerifyInput {
  secret: string;
  timestampHeader: string | null | undefined;
  signatureHeader: string | null | undefined;
  /** The exact raw request body; a string is taken as its UTF-8 bytes. */
  body: string | Uint8Array;
  nowSec: number;
  toleranceSec?: number;
}

const TIMESTAMP_RE = /^\d+$/;
const SIGNATURE_RE = /^v1=[0-9a-f]{64}$/;

export function signTrainingCallback(secret: string, timestamp: string, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`, 'utf8');
  hmac.update(body);
  return SIGNATURE_PREFIX + hmac.digest('hex');
}

export function verifyTrainingCallback(input: VerifyInput): VerifyResult {
  const { secret, timestampHeader, signatureHeader, body, nowSec } = input;
  const toleranceSec = input.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  if (!timestampHeader || !TIMESTAMP_RE.test(timestampHeader)) return { ok: false, reason: 'malformed' };
  if (!signatureHeader || !SIGNATURE_RE.test(signatureHeader)) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSec - Number(timestampHeader)) > toleranceSec) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signTrainingCallback(secret, timestampHeader, body), 'utf8');
  const given = Buffer.from(signatureHeader, 'utf8');
  // Both are 67 ASCII bytes here (checked by SIGNATURE_RE), as timingSafeEqual requires.
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'mismatch' };
  }
  return { ok: true };
}
