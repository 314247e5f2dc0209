// Stable error codes of the public contract (SPEC §4). Domain code throws DomainError with one
// of these; only src/http maps them to HTTP statuses.
export const ERROR_CODES = [
  'validation_error',
  'idempotency_key_required',
  'unauthenticated',
  'forbidden',
  'not_found',
  'idempotency_key_in_flight',
  'already_exists',
  'insufficient_funds',
  'invalid_state',
  'idempotency_key_reused',
  'refund_exceeds_remaining',
  'not_refundable',
  'price_changed',
  'currency_mismatch',
  'limit_exceeded',
  'account_frozen',
  'account_closed',
  'rate_limited',
  'unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(`${code}: ${detail}`);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string) => new DomainError('not_found', `${what} was not found`);
export const forbidden = (detail = 'not allowed for this resource') => new DomainError('forbidden', detail);
export const invalidState = (detail: string) => new DomainError('invalid_state', detail);

/** A broken invariant: a bug, never a user error. Crashes the request loudly (500 + error log). */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = 'InvariantViolation';
  }
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}
