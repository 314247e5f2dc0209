import { performance } from 'node:perf_hooks';

/** What one operation reports: `undefined` on success, otherwise a short failure label ("503 unavailable"). */
export type Outcome = string | undefined;

/** One operation of a load scenario; `worker` is the index of the client issuing it (0..concurrency-1). */
export type Operation = (worker: number) => Promise<Outcome>;

export interface LoadOptions {
  concurrency: number;
  warmup_ms: number;
  duration_ms: number;
  operation: Operation;
}

export interface LoadStats {
  /** Operations that completed inside the measured window (after the warm-up). */
  completed: number;
  window_s: number;
  ops_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  /** Every request of the scenario, warm-up and drain included. */
  requests: number;
  failed: number;
  failures: Record<string, number>;
}

/** Latencies of successful operations in the window, and every failure of the whole run. */
class Recorder {
  private readonly latencies_ms: number[] = [];
  private readonly failures = new Map<string, number>();
  private requests = 0;

  constructor(
    private readonly window_start_ms: number,
    private readonly window_end_ms: number,
  ) {}

  record(started_ms: number, ended_ms: number, outcome: Outcome): void {
    this.requests += 1;
    if (outcome !== undefined) {
      this.failures.set(outcome, (this.failures.get(outcome) ?? 0) + 1);
      return;
    }
    if (started_ms >= this.window_start_ms && ended_ms <= this.window_end_ms) this.latencies_ms.push(ended_ms - started_ms);
  }

  stats(): LoadStats {
    const window_s = (this.window_end_ms - this.window_start_ms) / 1000;
    const sorted = Float64Array.from(this.latencies_ms).sort();
    const failures = Object.fromEntries(this.failures);
    return {
      completed: sorted.length,
      window_s,
      ops_per_s: sorted.length / window_s,
      latency_p50_ms: percentile(sorted, 0.5),
      latency_p99_ms: percentile(sorted, 0.99),
      requests: this.requests,
      failed: Object.values(failures).reduce((sum, count) => sum + count, 0),
      failures,
    };
  }
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Closed-loop load: `concurrency` clients each issue operations back to back until the warm-up
 * plus the measured window has passed, then wait for their last operation (never abandoned, so
 * every request gets its answer counted). Operations that start and end inside the window are
 * the throughput and latency; failures are counted over the whole run.
 */
export async function runLoad(options: LoadOptions): Promise<LoadStats> {
  const start_ms = performance.now();
  const recorder = new Recorder(start_ms + options.warmup_ms, start_ms + options.warmup_ms + options.duration_ms);
  const end_ms = start_ms + options.warmup_ms + options.duration_ms;
  const client = async (worker: number) => {
    while (performance.now() < end_ms) {
      const started_ms = performance.now();
      const outcome = await options.operation(worker).catch(failureLabel);
      recorder.record(started_ms, performance.now(), outcome);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, worker) => client(worker)));
  return recorder.stats();
}

/**
 * Open-loop load at a fixed arrival rate: an operation starts every 1/rate seconds whether or not
 * the earlier ones have finished (at most `in_flight_max` at once; a start that finds none free
 * counts as a failure, "overloaded"), so latency is measured as a client population would see it,
 * without the closed loop's coordinated omission.
 */
export async function runOpenLoop(options: {
  rate_per_s: number;
  warmup_ms: number;
  duration_ms: number;
  in_flight_max: number;
  operation: Operation;
}): Promise<LoadStats> {
  const start_ms = performance.now();
  const recorder = new Recorder(start_ms + options.warmup_ms, start_ms + options.warmup_ms + options.duration_ms);
  const end_ms = start_ms + options.warmup_ms + options.duration_ms;
  const interval_ms = 1000 / options.rate_per_s;
  const running = new Set<Promise<void>>();
  let worker = 0;
  for (let next_ms = start_ms; next_ms < end_ms; next_ms += interval_ms) {
    const wait_ms = next_ms - performance.now();
    if (wait_ms > 1) await new Promise((resolve) => setTimeout(resolve, wait_ms));
    const started_ms = performance.now();
    if (running.size >= options.in_flight_max) {
      recorder.record(started_ms, started_ms, 'overloaded');
      continue;
    }
    const run = options
      .operation(worker++ % options.in_flight_max)
      .catch(failureLabel)
      .then((outcome) => recorder.record(started_ms, performance.now(), outcome))
      .finally(() => running.delete(run));
    running.add(run);
  }
  await Promise.all(running);
  return recorder.stats();
}

/** Runs `task` over every item with at most `concurrency` in flight; the first error stops the run. */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const client = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, client));
}

export function failureLabel(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `error ${code}` : `error ${(error as Error | null)?.message ?? String(error)}`;
}
