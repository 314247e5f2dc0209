import type pg from 'pg';
import { runPipeline } from '../db/pipeline.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';

export interface AccountQueueSettings {
  pool: pg.Pool;
  /** How long an account stays hot after a batch touching it lost a serialization conflict. */
  hot_ms: number;
  /** Hot accounts and known queue rows remembered at most (the oldest go first). */
  entries_max: number;
  metrics: Metrics;
  logger: Logger;
}

/** A place in the queue of some accounts: held until the batch behind it has committed or given up. */
export interface QueueTicket {
  leave(): Promise<void>;
  /** Leaves without a round trip (the connection is destroyed, so the database ends its locks): for a database that cannot answer. */
  drop(): void;
}

const ENSURE_ROWS = {
  name: 'queue_rows',
  text: 'INSERT INTO contention_locks (account_id, crdb_region) SELECT unnest($1::text[]), $2 ON CONFLICT (account_id) DO NOTHING',
};
const BEGIN = { name: 'queue_begin', text: 'BEGIN', values: [] };
const ENTER = {
  name: 'queue_enter',
  text: 'SELECT account_id FROM contention_locks WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE',
};

/**
 * PostgreSQL only: batches of several pods on one hot account take turns instead of aborting each
 * other. On PostgreSQL a serializable transaction's snapshot is taken at its first statement, so a
 * row lock it waits for does not save it: when the holder commits, the waiter fails with 40001,
 * and the pod whose next batch starts first wins again and again. A batch touching an account
 * that recently lost such a conflict therefore first queues on the account's row of
 * contention_locks, on another connection and before its own transaction begins, so its snapshot
 * contains the previous holder's commit. Correctness never depends on it (on CockroachDB, where a
 * locking read refreshes instead of failing, it is off): it only turns retries into waits.
 */
export class AccountQueue {
  private readonly hot_until_ms = new Map<string, number>();
  private readonly known_rows = new Set<string>();

  constructor(private readonly settings: AccountQueueSettings) {}

  markHot(accounts: Iterable<string>): void {
    const until = Date.now() + this.settings.hot_ms;
    for (const account of accounts) {
      this.hot_until_ms.delete(account);
      this.hot_until_ms.set(account, until);
    }
    trim(this.hot_until_ms, this.settings.entries_max);
  }

  hotAmong(accounts: readonly string[]): string[] {
    const now = Date.now();
    return accounts.filter((account) => (this.hot_until_ms.get(account) ?? 0) > now);
  }

  /** Waits until no batch of another pod (or batcher) holds any of `accounts`, and holds them. */
  async enter(accounts: readonly string[], region: string): Promise<QueueTicket> {
    const ordered = [...new Set(accounts)].sort();
    const connection = await this.settings.pool.connect();
    const broken = (error: unknown) => this.settings.logger.warn({ err: error }, 'account queue connection failed');
    connection.on('error', broken);
    try {
      const missing = ordered.filter((account) => !this.known_rows.has(account));
      // Queue rows are committed before they are locked: a row inserted and locked in one
      // transaction would be invisible to the other pods until that transaction ends.
      const { metrics } = this.settings;
      if (missing.length > 0) {
        metrics.db_round_trips_total.inc({ path: 'queue' });
        await connection.query({ ...ENSURE_ROWS, values: [missing, region] });
      }
      for (const account of missing) this.known_rows.add(account);
      trim(this.known_rows, this.settings.entries_max);
      metrics.db_round_trips_total.inc({ path: 'queue' }, 2);
      await runPipeline(connection, [BEGIN, { ...ENTER, values: [ordered] }]);
      metrics.batch_queued_total.inc();
    } catch (error) {
      connection.off('error', broken);
      connection.release(true);
      throw error;
    }
    return {
      leave: async () => {
        try {
          await connection.query('COMMIT');
          connection.release();
        } catch {
          connection.release(true);
        } finally {
          connection.off('error', broken);
        }
      },
      drop: () => {
        connection.off('error', broken);
        connection.release(true);
      },
    };
  }
}

function trim(entries: Map<string, unknown> | Set<string>, max: number): void {
  for (const key of entries.keys()) {
    if (entries.size <= max) return;
    entries.delete(key);
  }
}
