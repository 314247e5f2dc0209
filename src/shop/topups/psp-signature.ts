import { createHmac, timingSafeEqual } from 'node:crypto';

const TIMESTAMP = /^\d{1,12}$/;
const HEX_SIGNATURE = /^[0-9a-f]{64}$/i;
/** More v1 entries than any rotation leaves signing at once: a header with more is refused unread. */
const SIGNATURES_MAX = 20;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * A signed callback's body: the bytes exactly as received, which the signature covers, and the
 * text read from them (UTF-8; a byte order mark dropped, a byte that is not UTF-8 read as U+FFFD,
 * which can only land inside a string, where every field that matters is validated).
 */
export interface SignedBody {
  bytes: Buffer;
  text: string;
}

const UTF8 = new TextDecoder();

export function signedBody(bytes: Buffer): SignedBody {
  return { bytes, text: UTF8.decode(bytes) };
}

/** HMAC-SHA256 over "<timestamp>.<raw body>", hex encoded (SPEC §5). */
export function signPayload(secret: string, timestamp_s: number, raw_body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp_s}.`).update(raw_body).digest('hex');
}

export function signatureHeader(secret: string, timestamp_s: number, raw_body: string | Buffer): string {
  return `t=${timestamp_s},v1=${signPayload(secret, timestamp_s, raw_body)}`;
}

/**
 * Verifies `<header_name>: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` over the exact bytes received:
 * the timestamp is within `tolerance_s` of now (a replayed request is refused), and some v1 is the
 * HMAC under one of `secrets`, compared in constant time. Read as partners write it: white space
 * around entries, entries in any order, hex in either case, one v1 per secret they sign with during
 * a rotation, other schemes (`v0=`) ignored. The PSP signs `Psp-Signature`, the payout provider
 * `Payout-Signature` (SPEC §10), and we sign our webhooks the same way (src/webhooks/signature.ts).
 */
export function verifySignature(
  header: string,
  raw_body: string | Buffer,
  secrets: readonly string[],
  now_s: number,
  tolerance_s: number,
  header_name = 'Psp-Signature',
): SignatureCheck {
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamps = parts.filter(([name]) => name === 't').map(([, value]) => value ?? '');
  const signatures = parts.filter(([name]) => name === 'v1').map(([, value]) => value ?? '');
  if (timestamps.length !== 1 || !TIMESTAMP.test(timestamps[0]!)) return { ok: false, reason: `${header_name} has no valid t=` };
  if (signatures.length === 0 || signatures.length > SIGNATURES_MAX || !signatures.every((value) => HEX_SIGNATURE.test(value))) {
    return { ok: false, reason: `${header_name} has no valid v1=` };
  }
  const timestamp_s = Number(timestamps[0]);
  if (Math.abs(now_s - timestamp_s) > tolerance_s) return { ok: false, reason: `signature timestamp is more than ${tolerance_s} s away` };
  const received = signatures.map((value) => Buffer.from(value, 'hex'));
  for (const secret of secrets) {
    const expected = Buffer.from(signPayload(secret, timestamp_s, raw_body), 'hex');
    if (received.some((candidate) => timingSafeEqual(candidate, expected))) return { ok: true };
  }
  return { ok: false, reason: 'signature does not match' };
}
