import type { RequestAnswer, RequestIdempotency, StoredResponse } from '../batch/operation.js';
import { DomainError, type ErrorCode } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';

/** A request's record under its caller's Idempotency-Key, as read back. */
export type StoredKey = {
  request_fingerprint: string;
  status_code: number;
  response_text: string | null;
  /** Written before answers were stored as their exact bytes (kept at most the retention period). */
  response_body: LegacyBody | null;
};
type LegacyBody = { ok: true; body: unknown } | { ok: false; code: ErrorCode; detail: string; extensions?: Record<string, unknown> };

/** What a request under a stored key gets: the answer stored, or, for another request under that key, `idempotency_key_reused`. */
export function replayStored(idempotency: RequestIdempotency, stored: StoredKey): StoredResponse | DomainError {
  if (stored.request_fingerprint !== idempotency.fingerprint) {
    return new DomainError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
  }
  if (stored.response_text !== null) return { status: stored.status_code, body: stored.response_text };
  const legacy = stored.response_body!;
  if (legacy.ok) return { status: stored.status_code, body: JSON.stringify(legacy.body) };
  return idempotency.renderFailure(new DomainError(legacy.code, legacy.detail, legacy.extensions ?? {}));
}

/**
 * For a request refused before it reached the write path (its input, its account, a rule checked
 * first): what its key has stored, if anything. A retry of a request that ran gets that answer, and
 * another request under the key 422 `idempotency_key_reused`, whatever is wrong with it now. A
 * refusal of its own is not stored (as Stripe: a request that never ran leaves its key free).
 */
export async function storedAnswer(
  deps: Pick<AppDeps, 'transactions'>,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer | undefined> {
  const stored = await deps.transactions.read((tx) =>
    tx.maybeOne<StoredKey>(
      'SELECT request_fingerprint, status_code, response_text, response_body FROM idempotency_keys WHERE caller = ? AND key = ?',
      [idempotency.caller, idempotency.key],
    ),
  );
  if (!stored) return undefined;
  const replay = replayStored(idempotency, stored);
  if (replay instanceof DomainError) throw replay;
  return { ...replay, replayed: true };
}
