import { createHmac, timingSafeEqual } from 'node:crypto';
import { signPayload, type SignatureCheck } from '../shop/topups/psp-signature.js';

/**
 * `Creditshop-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`: HMAC-SHA256 of "<t>.<raw body>"
 * (the PSP's scheme, src/shop/topups/psp-signature.ts), one v1 per secret signing now: during a
 * rotation's overlap the old and the new one, so a receiver verifies with whichever it knows.
 */
export const SIGNATURE_HEADER = 'Creditshop-Signature';

export function webhookSignatureHeader(secrets: readonly string[], timestamp_s: number, raw_body: string): string {
  return [`t=${timestamp_s}`, ...secrets.map((secret) => `v1=${signPayload(secret, timestamp_s, raw_body)}`)].join(',');
}

const TIMESTAMP = /^\d{1,12}$/;
const HEX_SIGNATURE = /^[0-9a-f]{64}$/;
/** More v1 entries than any rotation leaves signing at once: a header with more is refused unread. */
const SIGNATURES_MAX = 20;

/**
 * What a receiver checks (the README shows the same for Node): the timestamp is within
 * `tolerance_s` of now (a replayed request is refused), and some v1 is the HMAC of the exact
 * bytes received under one of the receiver's secrets, compared in constant time.
 */
export function verifyWebhookSignature(
  header: string,
  raw_body: string,
  secrets: readonly string[],
  now_s: number,
  tolerance_s: number,
): SignatureCheck {
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamps = parts.filter(([name]) => name === 't').map(([, value]) => value ?? '');
  const signatures = parts.filter(([name]) => name === 'v1').map(([, value]) => value ?? '');
  if (timestamps.length !== 1 || !TIMESTAMP.test(timestamps[0]!)) return { ok: false, reason: `${SIGNATURE_HEADER} has no valid t=` };
  if (signatures.length === 0 || signatures.length > SIGNATURES_MAX || !signatures.every((value) => HEX_SIGNATURE.test(value))) {
    return { ok: false, reason: `${SIGNATURE_HEADER} has no valid v1=` };
  }
  const timestamp_s = Number(timestamps[0]);
  if (Math.abs(now_s - timestamp_s) > tolerance_s) return { ok: false, reason: `signature timestamp is more than ${tolerance_s} s away` };
  const received = signatures.map((value) => Buffer.from(value, 'hex'));
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${timestamp_s}.${raw_body}`).digest();
    if (received.some((candidate) => timingSafeEqual(candidate, expected))) return { ok: true };
  }
  return { ok: false, reason: 'no signature matches a known secret' };
}
