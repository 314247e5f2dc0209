import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics extends OperationsMetrics {
  registry: Registry;
  http_request_duration_seconds: Histogram<'method' | 'route' | 'status'>;
  transaction_attempts_total: Counter<'name'>;
  transaction_retries_total: Counter<'name' | 'sqlstate'>;
  transaction_outcomes_total: Counter<'name' | 'outcome'>;
  db_pool_connections: Gauge<'pool' | 'state'>;
  batch_operations: Histogram<'batch_region'>;
  batch_duration_seconds: Histogram<'batch_region'>;
  batch_attempts_total: Counter<'batch_region'>;
  batch_retries_total: Counter<'batch_region' | 'sqlstate'>;
  batch_splits_total: Counter<'batch_region'>;
  batch_queued_total: Counter;
  db_round_trips_total: Counter<'path'>;
  write_queue_depth: Gauge;
  pod_slot: Gauge;
  pod_slot_held: Gauge;
  payout_calls_total: Counter<'outcome'>;
  payout_events_total: Counter<'outcome'>;
}

/** What a connection pool reports, read at scrape time. */
export interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * What operators alert on (deploy/prometheus/alerts.yml). The fleet gauges hold facts of the
 * whole database, read by every pod (src/platform/fleet-gauges.ts): every pod exports the same
 * value, so aggregate them with max, never sum.
 */
export interface OperationsMetrics {
  pod_ready: Gauge;
  reconciliation_runs_total: Counter<'trigger' | 'outcome'>;
  reconciliation_mismatches: Gauge<'check'>;
  reconciliation_last_success_timestamp_seconds: Gauge;
  reconciliation_interval_seconds: Gauge;
  psp_events_total: Counter<'outcome'>;
  psp_events_held_for_review: Gauge<'outcome'>;
  topups_needing_reconciliation: Gauge;
}

export interface MetricsOptions {
  region: string;
  process_metrics: boolean;
  pools?: Record<string, PoolStats>;
  /** Operations waiting for a batch in this pod, read at scrape time. */
  write_queue_depth?: () => number;
  /** Whether the pod can serve (the check of GET /ready), asked at scrape time. */
  readiness?: () => Promise<boolean>;
  reconciliation_interval_seconds?: number;
}

/** One registry per pod; default process metrics only where a process hosts exactly one pod. */
export function createMetrics(options: MetricsOptions): Metrics {
  const pools = options.pools ?? {};
  const registry = new Registry();
  registry.setDefaultLabels({ region: options.region });
  if (options.process_metrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    ...operationsMetrics(registry, options),
    http_request_duration_seconds: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [registry],
    }),
    transaction_attempts_total: new Counter({
      name: 'db_transaction_attempts_total',
      help: 'Serializable transaction attempts, first tries and retries',
      labelNames: ['name'],
      registers: [registry],
    }),
    transaction_retries_total: new Counter({
      name: 'db_transaction_retries_total',
      help: 'Transaction retries by the SQLSTATE that caused them',
      labelNames: ['name', 'sqlstate'],
      registers: [registry],
    }),
    transaction_outcomes_total: new Counter({
      name: 'db_transaction_outcomes_total',
      help: 'Transaction outcomes: committed, failed (non-retryable error), exhausted (retries used up)',
      labelNames: ['name', 'outcome'],
      registers: [registry],
    }),
    db_pool_connections: new Gauge({
      name: 'db_pool_connections',
      help: 'Database pool connections by state (total, idle) and requests waiting for one',
      labelNames: ['pool', 'state'],
      registers: [registry],
      collect() {
        for (const [pool, stats] of Object.entries(pools)) {
          this.set({ pool, state: 'total' }, stats.totalCount);
          this.set({ pool, state: 'idle' }, stats.idleCount);
          this.set({ pool, state: 'waiting' }, stats.waitingCount);
        }
      },
    }),
    batch_operations: new Histogram({
      name: 'batch_operations',
      help: 'Operations per batch (one serializable transaction each)',
      labelNames: ['batch_region'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [registry],
    }),
    batch_duration_seconds: new Histogram({
      name: 'batch_duration_seconds',
      help: 'Time from the start of a batch to the answers of all its operations, retries included',
      labelNames: ['batch_region'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    batch_attempts_total: new Counter({
      name: 'batch_attempts_total',
      help: 'Batch transaction attempts, first tries and retries',
      labelNames: ['batch_region'],
      registers: [registry],
    }),
    batch_retries_total: new Counter({
      name: 'batch_retries_total',
      help: 'Batches run again whole, by the SQLSTATE that caused it (a twin key is 23505)',
      labelNames: ['batch_region', 'sqlstate'],
      registers: [registry],
    }),
    batch_splits_total: new Counter({
      name: 'batch_splits_total',
      help: 'Batches split in halves to isolate an operation whose statement failed',
      labelNames: ['batch_region'],
      registers: [registry],
    }),
    batch_queued_total: new Counter({
      name: 'batch_queued_total',
      help: 'Batches that queued behind other pods on a hot account before starting (PostgreSQL)',
      registers: [registry],
    }),
    db_round_trips_total: new Counter({
      name: 'db_round_trips_total',
      help:
        'Round trips to the database by path: batch (the write path, its hot-account queue lock included), ' + 'runner (everything else)',
      labelNames: ['path'],
      registers: [registry],
    }),
    payout_calls_total: new Counter({
      name: 'payout_calls_total',
      help: 'Calls to the payout provider by outcome (accepted, refused, unknown)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    payout_events_total: new Counter({
      name: 'payout_events_total',
      help: 'Signed payout callbacks by what they came to (paid, failed, duplicate, held for review, ...)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    write_queue_depth: new Gauge({
      name: 'write_queue_depth',
      help: 'Operations waiting for a batch in this pod',
      registers: [registry],
      collect() {
        this.set(options.write_queue_depth?.() ?? 0);
      },
    }),
    pod_slot: new Gauge({
      name: 'pod_slot',
      help: "The pod's slot in its region: names the system-balance shards its batches write",
      registers: [registry],
    }),
    pod_slot_held: new Gauge({
      name: 'pod_slot_held',
      help: '1 while the pod holds its slot (leased, or fixed by POD_INDEX); 0 while it writes under one it may share',
      registers: [registry],
    }),
  };
}

function operationsMetrics(registry: Registry, options: MetricsOptions): OperationsMetrics {
  const registers = [registry];
  const interval = new Gauge({
    name: 'reconciliation_interval_seconds',
    help: 'RECONCILIATION_INTERVAL_SECONDS: how often one pod of the fleet reconciles the database',
    registers,
  });
  if (options.reconciliation_interval_seconds !== undefined) interval.set(options.reconciliation_interval_seconds);
  return {
    pod_ready: new Gauge({
      name: 'pod_ready',
      help: '1 when this pod can serve (database reachable, every migration applied: what GET /ready answers), checked at scrape time',
      registers,
      async collect() {
        this.set(options.readiness && (await options.readiness()) ? 1 : 0);
      },
    }),
    reconciliation_runs_total: new Counter({
      name: 'reconciliation_runs_total',
      help: 'Reconciliation runs of this pod by trigger (schedule, admin) and outcome (clean, mismatches, failed)',
      labelNames: ['trigger', 'outcome'],
      registers,
    }),
    reconciliation_mismatches: new Gauge({
      name: 'reconciliation_mismatches',
      help: "Mismatches of the fleet's last reconciliation by check (the same in every pod)",
      labelNames: ['check'],
      registers,
    }),
    reconciliation_last_success_timestamp_seconds: new Gauge({
      name: 'reconciliation_last_success_timestamp_seconds',
      help: "When the fleet's last reconciliation finished (whatever it found); 0: none yet (the same in every pod)",
      registers,
    }),
    reconciliation_interval_seconds: interval,
    psp_events_total: new Counter({
      name: 'psp_events_total',
      help: 'Signed PSP callbacks this pod received, by outcome (credited, failed, reversed, duplicate, held for review, ...)',
      labelNames: ['outcome'],
      registers,
    }),
    psp_events_held_for_review: new Gauge({
      name: 'psp_events_held_for_review',
      help: 'PSP events recorded but not applied, waiting for an operator, by outcome (the same in every pod)',
      labelNames: ['outcome'],
      registers,
    }),
    topups_needing_reconciliation: new Gauge({
      name: 'topups_needing_reconciliation',
      help:
        'Top-ups the PSP never confirmed within TOPUP_PENDING_TIMEOUT_SECONDS and still waiting on it: PENDING, or FAILED ' +
        'with a refund waiting (the same in every pod)',
      registers,
    }),
  };
}
