import { describe, expect, it } from 'vitest';
import { RETRY_DEFAULTS, retryAfterMs, retryDelayMs } from '../../src/client/retry.js';

// The typed client's waits between attempts (src/client/retry.ts); the retries themselves are tested
// against real failures in test/api/client-retries.test.ts.

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates, and nothing else', () => {
    const now_ms = Date.parse('2026-12-01T03:00:00Z');
    expect(retryAfterMs('1', now_ms)).toBe(1000);
    expect(retryAfterMs(' 30 ', now_ms)).toBe(30_000);
    expect(retryAfterMs('Tue, 01 Dec 2026 03:00:05 GMT', now_ms)).toBe(5000);
    expect(retryAfterMs('Tue, 01 Dec 2026 02:59:00 GMT', now_ms)).toBe(0);
    expect(retryAfterMs(null, now_ms)).toBeUndefined();
    expect(retryAfterMs('soon', now_ms)).toBeUndefined();
    expect(retryAfterMs('-1', now_ms)).toBeUndefined();
  });
});

describe('the wait before a retry', () => {
  const options = { ...RETRY_DEFAULTS, backoff_initial_ms: 100, backoff_max_ms: 1000 };
  const waits = (retry: number, retry_after_ms?: number) => Array.from({ length: 500 }, () => retryDelayMs(retry, retry_after_ms, options));

  it('is never shorter than Retry-After, and spread over one backoff above it', () => {
    const after = waits(1, 1000);
    expect(Math.min(...after)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...after)).toBeLessThanOrEqual(1100);
    expect(new Set(after).size).toBeGreaterThan(400);
  });

  it('without Retry-After, is between half and all of a backoff doubling from backoff_initial_ms up to backoff_max_ms', () => {
    for (const [retry, backoff_ms] of [
      [1, 100],
      [2, 200],
      [4, 800],
      [5, 1000],
      [30, 1000],
    ] as const) {
      const spread = waits(retry);
      expect(Math.min(...spread)).toBeGreaterThanOrEqual(backoff_ms / 2);
      expect(Math.max(...spread)).toBeLessThanOrEqual(backoff_ms);
    }
  });
});
