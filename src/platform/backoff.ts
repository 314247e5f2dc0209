/** Exponential backoff bounds: the first delay, and the ceiling later delays stop growing at. */
export interface Backoff {
  initial_ms: number;
  max_ms: number;
}

/**
 * The delay before retry number `attempt` (1, 2, ...): initial_ms doubling per attempt up to max_ms,
 * of which a random half is taken off ("equal jitter"), so processes that failed together do not
 * all retry at the same instant, yet none retries much sooner than the schedule.
 */
export function backoffDelayMs(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling_ms = Math.min(backoff.max_ms, backoff.initial_ms * 2 ** exponent);
  return Math.round(ceiling_ms / 2 + random() * (ceiling_ms / 2));
}
