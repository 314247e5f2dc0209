import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { DomainError } from '../domain/errors.js';
import type { Metrics } from '../platform/metrics.js';
import { asUnavailable, isDatabaseUnavailable, sqlState } from './database-errors.js';
import { KeyedMutex } from './keyed-mutex.js';
import { type PreparedStatements, SqlTx } from './sql.js';

export interface RetryPolicy {
  attempts_max: number;
  backoff_base_ms: number;
  backoff_max_ms: number;
}

export interface RunOptions {
  /**
   * Player accounts whose wallets the transaction writes. Within a pod their transactions run
   * one at a time; once an account has seen a serialization conflict, its transactions also
   * queue on a row lock so that pods stop aborting each other. A transaction that does not
   * queue takes a shared NOWAIT lock on the same rows, so it never overtakes a queued one (it
   * joins the queue instead). Correctness never depends on either: the SERIALIZABLE
   * transaction alone guarantees it (locks are only a way to avoid aborts, and on CockroachDB
   * they are best effort).
   */
  contended_accounts?: readonly string[];
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
/** lock_not_available: a NOWAIT lock request met a conflicting lock. */
const LOCK_NOT_AVAILABLE = '55P03';
const HOT_ACCOUNT_TTL_MS = 5_000;
const HOT_ACCOUNTS_MAX = 10_000;

export function isRetryable(error: unknown): boolean {
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

type Isolation = string;
const SERIALIZABLE: Isolation = 'BEGIN ISOLATION LEVEL SERIALIZABLE';
const SNAPSHOT: Isolation = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

export interface RunnerSettings {
  /** Transactions run on plain pooled connections: MikroORM's query layer cost more CPU per
   * transaction than the rest of the request together (measured, see BENCHMARKS.md). */
  tx_pool: pg.Pool;
  lock_pool: pg.Pool;
  /** The named prepared statements of the pools' connections. */
  statements: PreparedStatements;
  metrics: Metrics;
  policy: RetryPolicy;
  /** Region of this pod: where its contention lock rows and system balance shards live. */
  region: string;
  /** First system-balance shard number of this pod; a transaction uses shard_base + its slot. */
  shard_base: number;
  contention_waiters_max: number;
}

/** The accounts are queued on by another transaction: join the queue (no backoff needed). */
class AccountsQueued extends Error {
  readonly code = LOCK_NOT_AVAILABLE;
}

/** Shards per pod: beyond this many concurrent transactions, slots share shards (a conflict is only a retry). */
export const SHARD_SLOTS_PER_POD = 1024;

export class TransactionRunner {
  private readonly mutex: KeyedMutex;
  private readonly hot_until_ms = new Map<string, number>();
  private readonly free_slots: number[] = [];
  private next_slot = 0;
  private readonly lock_pool: pg.Pool;
  private readonly metrics: Metrics;
  private readonly policy: RetryPolicy;

  constructor(private readonly settings: RunnerSettings) {
    this.lock_pool = settings.lock_pool;
    this.metrics = settings.metrics;
    this.policy = settings.policy;
    this.mutex = new KeyedMutex(settings.contention_waiters_max);
  }

  /**
   * Reads outside an explicit transaction: each statement sees committed data. For queries
   * whose rows are immutable once committed (ledger, history), or that need one statement only.
   */
  async read<T>(work: (tx: SqlTx) => Promise<T>): Promise<T> {
    const context = { region: this.settings.region, shard: this.settings.shard_base };
    return work(new SqlTx(this.settings.tx_pool, context, this.settings.statements));
  }

  /** Runs `work` as one SERIALIZABLE transaction, retried whole (on a fresh connection) on 40001. */
  async run<T>(name: string, work: (tx: SqlTx) => Promise<T>, options: RunOptions = {}): Promise<T> {
    const accounts = options.contended_accounts ?? [];
    const isolation = options.read_only_snapshot ? SNAPSHOT : SERIALIZABLE;
    if (accounts.length === 0) return this.runWithRetries(name, work, accounts, isolation);
    return this.mutex.runExclusive(accounts, () => this.runWithRetries(name, work, accounts, isolation));
  }

  private async runWithRetries<T>(
    name: string,
    work: (tx: SqlTx) => Promise<T>,
    accounts: readonly string[],
    isolation: Isolation,
  ): Promise<T> {
    let lock: pg.PoolClient | undefined;
    try {
      for (let attempt = 1; ; attempt += 1) {
        if (lock === undefined && accounts.length > 0 && (attempt > 1 || this.isHot(accounts))) {
          lock = await this.lockAccounts(name, accounts);
        }
        this.metrics.transaction_attempts_total.inc({ name });
        try {
          const result = await this.attempt(work, lock === undefined ? accounts : [], isolation);
          this.metrics.transaction_outcomes_total.inc({ name, outcome: 'committed' });
          return result;
        } catch (error) {
          await this.handleFailure(name, error, attempt, accounts);
        }
      }
    } finally {
      if (lock) await this.unlock(lock);
    }
  }

  /**
   * One attempt. `unqueued_accounts` are contended accounts this attempt did not queue for:
   * its first statement share-locks their queue rows without waiting. While it holds them, a
   * queued transaction of another pod cannot start (it would otherwise lose every conflict to
   * unqueued ones and exhaust its retries); if a queued one holds them, this attempt stops
   * and queues too.
   */
  private async attempt<T>(work: (tx: SqlTx) => Promise<T>, unqueued_accounts: readonly string[], isolation: Isolation): Promise<T> {
    const slot = this.free_slots.pop() ?? this.next_slot++;
    const context = { region: this.settings.region, shard: this.settings.shard_base + (slot % SHARD_SLOTS_PER_POD) };
    let client: pg.PoolClient | undefined;
    let broken = false;
    try {
      client = await this.settings.tx_pool.connect();
      await client.query(isolation);
      const tx = new SqlTx(client, context, this.settings.statements);
      if (unqueued_accounts.length > 0) await this.shareQueue(tx, unqueued_accounts);
      const result = await work(tx);
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
      this.free_slots.push(slot);
    }
  }

  private async shareQueue(tx: SqlTx, accounts: readonly string[]): Promise<void> {
    const ordered = [...new Set(accounts)].sort();
    try {
      await tx.rows(
        `SELECT account_id FROM contention_locks WHERE account_id IN (${ordered.map(() => '?').join(', ')})
         ORDER BY account_id FOR SHARE NOWAIT`,
        ordered,
      );
    } catch (error) {
      if (sqlState(error) === LOCK_NOT_AVAILABLE) throw new AccountsQueued('the accounts are queued on by another transaction');
      throw error;
    }
  }

  /** Returns to retry; throws when the error is final. */
  private async handleFailure(name: string, error: unknown, attempt: number, accounts: readonly string[]): Promise<void> {
    const queued = error instanceof AccountsQueued;
    if (!queued && !isRetryable(error)) {
      this.metrics.transaction_outcomes_total.inc({ name, outcome: 'failed' });
      throw asUnavailable(error);
    }
    this.markHot(accounts);
    if (attempt >= this.policy.attempts_max) {
      this.metrics.transaction_outcomes_total.inc({ name, outcome: 'exhausted' });
      throw new RetriesExhausted(name, attempt, error);
    }
    this.metrics.transaction_retries_total.inc({ name, sqlstate: sqlState(error) ?? 'unknown' });
    // Not a conflict when queued: the next attempt waits in the queue, no backoff needed.
    if (!queued) await sleep(backoffMs(this.policy, attempt));
  }

  private isHot(accounts: readonly string[]): boolean {
    const now = Date.now();
    return accounts.some((account) => (this.hot_until_ms.get(account) ?? 0) > now);
  }

  private markHot(accounts: readonly string[]): void {
    if (accounts.length === 0) return;
    const now = Date.now();
    if (this.hot_until_ms.size >= HOT_ACCOUNTS_MAX) {
      for (const [account, until] of this.hot_until_ms) if (until <= now) this.hot_until_ms.delete(account);
    }
    if (this.hot_until_ms.size >= HOT_ACCOUNTS_MAX) return;
    for (const account of accounts) this.hot_until_ms.set(account, now + HOT_ACCOUNT_TTL_MS);
  }

  /**
   * Queues behind other pods' transactions on the same accounts: a row lock held by a separate
   * connection (its own pool, so lock waiters can never starve the transactions they wait for)
   * until our transaction has finished. The transaction itself starts after the lock is granted,
   * so its snapshot already contains the previous holder's commit.
   */
  private async lockAccounts(name: string, accounts: readonly string[]): Promise<pg.PoolClient> {
    this.metrics.contention_locks_total.inc({ name });
    const ordered = [...new Set(accounts)].sort();
    let client: pg.PoolClient | undefined;
    try {
      client = await this.lock_pool.connect();
      // The queue rows are committed before they are locked: unqueued transactions only see
      // committed rows, and would not notice a holder of a row that is still being inserted.
      await client.query(
        `INSERT INTO contention_locks (account_id, crdb_region) VALUES ${ordered.map((_, i) => `($${i + 2}, $1)`).join(', ')}
         ON CONFLICT (account_id) DO NOTHING`,
        [this.settings.region, ...ordered],
      );
      await client.query('BEGIN');
      // Held until COMMIT (unlock); the rows are never modified, so taking them creates no versions.
      for (const account of ordered) {
        await client.query('SELECT account_id FROM contention_locks WHERE account_id = $1 FOR UPDATE', [account]);
      }
      return client;
    } catch (error) {
      client?.release(true);
      throw asUnavailable(error);
    }
  }

  private async unlock(client: pg.PoolClient): Promise<void> {
    try {
      await client.query('COMMIT');
      client.release();
    } catch {
      client.release(true);
    }
  }
}
