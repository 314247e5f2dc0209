import { signPayload, verifySignature, type SignatureCheck } from '../shop/topups/psp-signature.js';

/**
 * `Creditshop-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`: HMAC-SHA256 of "<t>.<raw body>"
 * (the PSP's scheme, src/shop/topups/psp-signature.ts), one v1 per secret signing now: during a
 * rotation's overlap the old and the new one, so a receiver verifies with whichever it knows.
 */
export const SIGNATURE_HEADER = 'Creditshop-Signature';

export function webhookSignatureHeader(secrets: readonly string[], timestamp_s: number, raw_body: string): string {
  return [`t=${timestamp_s}`, ...secrets.map((secret) => `v1=${signPayload(secret, timestamp_s, raw_body)}`)].join(',');
}

/** What a receiver checks (the README shows the same for Node): see verifySignature. */
export function verifyWebhookSignature(
  header: string,
  raw_body: string,
  secrets: readonly string[],
  now_s: number,
  tolerance_s: number,
): SignatureCheck {
  return verifySignature(header, raw_body, secrets, now_s, tolerance_s, SIGNATURE_HEADER);
}
