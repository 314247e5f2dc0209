import { backoffDelayMs } from '../platform/backoff.js';

export interface RetryPolicy {
  retry_base_ms: number;
  retry_max_ms: number;
  retry_window_hours: number;
}

/** What becomes of a delivery after an attempt. */
export type AttemptVerdict = { state: 'delivered' } | { state: 'pending'; retry_in_ms: number } | { state: 'failed' };

/**
 * A 2xx delivers. Anything else (another status, a timeout, a refused connection) is retried
 * after WEBHOOK_RETRY_BASE_MS doubling per attempt up to WEBHOOK_RETRY_MAX_MS, with jitter (a
 * random half of each delay taken off, so deliveries that failed together spread out); when the
 * next attempt would fall after WEBHOOK_RETRY_WINDOW_HOURS from the delivery's creation (the
 * event's commit, or an operator's redelivery), it is given up now.
 */
export function judgeAttempt(
  attempt: { ok: boolean; number: number; created_ms: number; now_ms: number },
  policy: RetryPolicy,
  random: () => number = Math.random,
): AttemptVerdict {
  if (attempt.ok) return { state: 'delivered' };
  const retry_in_ms = backoffDelayMs(attempt.number, { initial_ms: policy.retry_base_ms, max_ms: policy.retry_max_ms }, random);
  const window_ends_ms = attempt.created_ms + policy.retry_window_hours * 3_600_000;
  return attempt.now_ms + retry_in_ms > window_ends_ms ? { state: 'failed' } : { state: 'pending', retry_in_ms };
}
