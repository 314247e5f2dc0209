import { DomainError } from '../domain/errors.js';

const CALLERS_TRACKED_MAX = 100_000;

/**
 * Per-caller token buckets of one pod: `rate_per_second` sustained, `burst` at once. Every pod
 * enforces its own share, so a caller spread over N pods gets up to N times the rate; the limit
 * protects each pod from one runaway client. Bounded: the least recently seen callers are dropped.
 */
export class CallerRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updated_ms: number }>();

  constructor(
    private readonly rate_per_second: number,
    private readonly burst: number,
  ) {}

  take(caller: string, now_ms = Date.now()): void {
    const bucket = this.buckets.get(caller) ?? { tokens: this.burst, updated_ms: now_ms };
    this.buckets.delete(caller);
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now_ms - bucket.updated_ms) / 1000) * this.rate_per_second);
    bucket.updated_ms = now_ms;
    if (this.buckets.size >= CALLERS_TRACKED_MAX) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(caller, bucket);
    if (bucket.tokens < 1) {
      const retry_after_seconds = Math.ceil((1 - bucket.tokens) / this.rate_per_second);
      throw new DomainError('rate_limited', `more than ${this.rate_per_second} requests per second; retry later`, { retry_after_seconds });
    }
    bucket.tokens -= 1;
  }
}
