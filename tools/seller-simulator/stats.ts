import type { SellerStats } from './types.js';

export type CallKind = 'quote' | 'hold' | 'order';
type Counter = 'orders_created' | 'rejected_429' | 'errors_500' | 'timeouts';

// A day of one-minute windows; older windows are dropped so a long-running simulator stays small.
const WINDOWS_KEPT = 1440;

/** Arrival counters of one seller, including the busiest fixed and sliding windows. */
export class CallStats {
  private counts = emptyCounts();
  private readonly by_window = new Map<number, number>();
  // Arrival times inside the last window_ms; `head` skips expired entries without shifting.
  private recent: number[] = [];
  private head = 0;
  private last_at = 0;
  private max_sliding = 0;
  private max_fixed = 0;

  constructor(private readonly window_ms: number) {}

  recordCall(kind: CallKind, now: number): void {
    this.counts[`${kind}_calls`] += 1;
    // Clamped so a wall-clock step backwards cannot break the sorted arrival list.
    const at = Math.max(now, this.last_at);
    this.last_at = at;
    this.countFixed(at);
    this.countSliding(at);
  }

  increment(counter: Counter): void {
    this.counts[counter] += 1;
  }

  reset(): void {
    this.counts = emptyCounts();
    this.by_window.clear();
    this.recent = [];
    this.head = 0;
    this.max_sliding = 0;
    this.max_fixed = 0;
  }

  snapshot(): SellerStats {
    return {
      ...this.counts,
      calls_by_window: new Map(this.by_window),
      max_calls_in_any_window: this.max_sliding,
      max_calls_in_fixed_window: this.max_fixed,
    };
  }

  private countFixed(at: number): void {
    const start = windowStart(at, this.window_ms);
    const count = (this.by_window.get(start) ?? 0) + 1;
    this.by_window.set(start, count);
    this.max_fixed = Math.max(this.max_fixed, count);
    if (this.by_window.size > WINDOWS_KEPT) {
      const oldest = this.by_window.keys().next().value;
      if (oldest !== undefined) this.by_window.delete(oldest);
    }
  }

  /** The busiest window of any alignment ends at some arrival, so checking at each arrival suffices. */
  private countSliding(at: number): void {
    this.recent.push(at);
    while (this.head < this.recent.length && (this.recent[this.head] ?? at) <= at - this.window_ms) this.head += 1;
    this.max_sliding = Math.max(this.max_sliding, this.recent.length - this.head);
    if (this.head > this.recent.length / 2) {
      this.recent = this.recent.slice(this.head);
      this.head = 0;
    }
  }
}

export function windowStart(at: number, window_ms: number): number {
  return Math.floor(at / window_ms) * window_ms;
}

function emptyCounts() {
  return { quote_calls: 0, hold_calls: 0, order_calls: 0, orders_created: 0, rejected_429: 0, errors_500: 0, timeouts: 0 };
}
