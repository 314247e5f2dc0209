import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { DomainError } from '../domain/errors.js';
import type { Metrics } from '../platform/metrics.js';
import { asUnavailable, isDatabaseUnavailable, isStalePreparedStatement, sqlState } from './database-errors.js';
import { type PreparedStatements, SqlTx } from './sql.js';

export interface RetryPolicy {
  attempts_max: number;
  backoff_base_ms: number;
  backoff_max_ms: number;
}

export interface RunOptions {
  /**
   * A read-only transaction over one snapshot (REPEATABLE READ READ ONLY: snapshot isolation on
   * PostgreSQL, serializable where the engine upgrades it). For whole-database checks, which as
   * SERIALIZABLE readers would predicate-lock everything and abort concurrent writers.
   */
  read_only_snapshot?: boolean;
}

/** SQLSTATEs after which the whole transaction is run again. 40003 (ambiguous commit) is safe
 * to retry only because every write records its idempotency key in the same transaction. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '40003']);

/** Thrown by a transaction's work when it must run again whole, for a reason of the work's own. */
export class RerunTransaction extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'RerunTransaction';
  }
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof RerunTransaction) return true;
  const state = sqlState(error);
  return state !== undefined && RETRYABLE_SQLSTATES.has(state);
}

/** Full jitter: uniform in [0, min(max, base * 2^attempt)]. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.random() * Math.min(policy.backoff_max_ms, policy.backoff_base_ms * 2 ** attempt);
}

export class RetriesExhausted extends DomainError {
  constructor(
    name: string,
    attempts: number,
    readonly last_error: unknown,
  ) {
    super('unavailable', `transaction ${name} did not commit after ${attempts} attempts; retry with the same Idempotency-Key`);
  }
}

const SERIALIZABLE = 'BEGIN ISOLATION LEVEL SERIALIZABLE';
const SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

export interface RunnerSettings {
  pool: pg.Pool;
  /** The named prepared statements of the pool's connections. */
  statements: PreparedStatements;
  metrics: Metrics;
  policy: RetryPolicy;
}

/**
 * Runs a transaction, and retries it whole on 40001/40P01/40003 with bounded, jittered backoff:
 * its one job. Money moves through the batched write path (src/batch), which has its own loop;
 * this serves what is not a batch: job progress, registries, reconciliation, reads.
 */
export class TransactionRunner {
  constructor(private readonly settings: RunnerSettings) {}

  get policy(): RetryPolicy {
    return this.settings.policy;
  }

  /**
   * Reads outside an explicit transaction: each statement sees committed data. For queries
   * whose rows are immutable once committed (ledger, history), or that need one statement only.
   */
  async read<T>(work: (tx: SqlTx) => Promise<T>): Promise<T> {
    return work(new SqlTx(this.settings.pool, this.settings.statements, this.roundTrip));
  }

  private readonly roundTrip = () => this.settings.metrics.db_round_trips_total.inc({ path: 'runner' });

  /** Runs `work` as one SERIALIZABLE transaction (or a read-only snapshot), retried whole on a fresh connection. */
  async run<T>(name: string, work: (tx: SqlTx) => Promise<T>, options: RunOptions = {}): Promise<T> {
    const { metrics, policy } = this.settings;
    const isolation = options.read_only_snapshot ? SNAPSHOT : SERIALIZABLE;
    for (let attempt = 1; ; attempt += 1) {
      metrics.transaction_attempts_total.inc({ name });
      try {
        const result = await this.attempt(work, isolation);
        metrics.transaction_outcomes_total.inc({ name, outcome: 'committed' });
        return result;
      } catch (error) {
        // A statement prepared before a migration: the connection is dropped, the rerun prepares it on another.
        if (!isRetryable(error) && !isStalePreparedStatement(error)) {
          metrics.transaction_outcomes_total.inc({ name, outcome: 'failed' });
          throw asUnavailable(error);
        }
        if (attempt >= policy.attempts_max) {
          metrics.transaction_outcomes_total.inc({ name, outcome: 'exhausted' });
          throw new RetriesExhausted(name, attempt, error);
        }
        metrics.transaction_retries_total.inc({ name, sqlstate: sqlState(error) ?? 'unknown' });
        await sleep(backoffMs(policy, attempt));
      }
    }
  }

  private async attempt<T>(work: (tx: SqlTx) => Promise<T>, isolation: string): Promise<T> {
    let client: pg.PoolClient | undefined;
    let broken = false;
    try {
      client = await this.settings.pool.connect();
      this.roundTrip();
      await client.query(isolation);
      const result = await work(new SqlTx(client, this.settings.statements, this.roundTrip));
      this.roundTrip();
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection the database dropped or stopped answering is destroyed, never reused (nor
      // waited on for a ROLLBACK); so is one whose ROLLBACK fails.
      broken = isDatabaseUnavailable(error);
      if (client && !broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw error;
    } finally {
      client?.release(broken);
    }
  }
}
