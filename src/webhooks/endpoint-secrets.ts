import { createHmac, randomBytes } from 'node:crypto';

/**
 * A signing secret of an endpoint, as stored: only its salt. The secret itself is
 * HMAC(WEBHOOK_SECRETS_KEY, salt), derived when a delivery is signed and when it is shown, so the
 * database never holds a secret (a dump without the key signs nothing) and neither does an
 * idempotency record (see secretMarker).
 */
export interface SigningSecret {
  salt: string;
  created_at: string;
  /** Null while it is the current secret; set by a rotation: it signs alongside the new one until then. */
  expires_at: string | null;
}

const SALT_BYTES = 18;
const SALT_PATTERN = '[A-Za-z0-9_-]{24}';

export function newSigningSecret(now: string): SigningSecret {
  return { salt: randomBytes(SALT_BYTES).toString('base64url'), created_at: now, expires_at: null };
}

export function secretValue(secrets_key: string, salt: string): string {
  return `whsec_${createHmac('sha256', secrets_key).update(`creditshop webhook signing secret:${salt}`).digest('base64url')}`;
}

/** The secrets that sign now: the current one and those still in a rotation's overlap. */
export function activeSecrets(secrets: readonly SigningSecret[], now_ms: number): SigningSecret[] {
  return secrets.filter((secret) => secret.expires_at === null || Date.parse(secret.expires_at) > now_ms);
}

/**
 * What an answer that shows a secret carries instead of it, as it is stored for replays under its
 * Idempotency-Key; revealSecrets turns it into the secret when the answer is sent (the first time
 * and on every replay alike, so a replay stays byte for byte the same).
 */
export function secretMarker(salt: string): string {
  return `signing-secret:${salt}`;
}

// Only as the value of a "secret" key: a JSON string value cannot contain an unescaped quote, so no
// field a client chose (a description, a URL) can imitate it.
const MARKED = new RegExp(`"secret":"signing-secret:(${SALT_PATTERN})"`, 'g');

export function revealSecrets(body: string, secrets_key: string): string {
  return body.replace(MARKED, (_, salt: string) => `"secret":${JSON.stringify(secretValue(secrets_key, salt))}`);
}
