import type { ErrorCode } from '../domain/errors.js';

/**
 * Outcomes decided by business rules are remembered under the request's Idempotency-Key and
 * replayed (as Stripe does); transient or caller-level failures (503, 429, 401) are not, so a
 * retry with the same key can still succeed.
 */
export const REMEMBERED_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'not_found',
  'already_exists',
  'insufficient_funds',
  'invalid_state',
  'refund_exceeds_remaining',
  'not_refundable',
  'price_changed',
  'currency_mismatch',
  'limit_exceeded',
  'account_frozen',
  'account_closed',
  'validation_error',
  'forbidden',
]);
