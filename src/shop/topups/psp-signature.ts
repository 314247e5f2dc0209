import { createHmac, timingSafeEqual } from 'node:crypto';

const HEADER_PATTERN = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/;

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
 * Verifies `Psp-Signature: t=<unix seconds>,v1=<hex>` over the exact bytes received; the payout
 * provider signs its callbacks the same way in `Payout-Signature` (SPEC §10).
 */
export function verifySignature(
  header: string,
  raw_body: Buffer,
  secret: string,
  now_s: number,
  tolerance_s: number,
  header_name = 'Psp-Signature',
): SignatureCheck {
  const match = HEADER_PATTERN.exec(header);
  if (!match) return { ok: false, reason: `${header_name} header is missing or malformed` };
  const timestamp_s = Number(match[1]);
  if (Math.abs(now_s - timestamp_s) > tolerance_s) return { ok: false, reason: `signature timestamp is more than ${tolerance_s} s away` };
  const expected = Buffer.from(signPayload(secret, timestamp_s, raw_body), 'hex');
  const received = Buffer.from(match[2]!, 'hex');
  if (!timingSafeEqual(expected, received)) return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
