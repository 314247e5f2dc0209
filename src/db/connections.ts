import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { backoffDelayMs, type Backoff } from '../platform/backoff.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { asUnavailable, isDatabaseUnavailable, sqlState } from './database-errors.js';

/** Connection settings of every session this application opens: its name, its bounds, UTC. */
export function sessionSettings(config: Config, url: string, application_name: string): pg.ClientConfig {
  return {
    connectionString: url,
    application_name,
    statement_timeout: config.db_statement_timeout_ms,
    idle_in_transaction_session_timeout: config.db_idle_in_transaction_timeout_ms,
    connectionTimeoutMillis: config.db_connect_timeout_ms,
    // A stalled server enforces no timeout of its own: the client gives up on an unanswered query.
    query_timeout: config.db_query_timeout_ms,
    options: '-c TimeZone=UTC',
  };
}

function describe(error: unknown): string {
  return sqlState(error) ?? (error instanceof Error ? error.message : String(error));
}

/**
 * A pool whose clients each carry an error listener for as long as they live. pg-pool listens to
 * a client only while it is idle; a checked-out client whose server goes away (a fast shutdown
 * sends 57P01, an idle-in-transaction timeout 25P03, a reset socket ECONNRESET) emits 'error',
 * and an 'error' event nobody listens to ends the process. The broken client is not queryable
 * any more, so its query fails as unavailable and pg-pool destroys it when it is released.
 */
export function createPool(settings: pg.PoolConfig, name: string, logger: Logger): pg.Pool {
  const pool = new pg.Pool(settings);
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.warn({ pool: name, reason: describe(error) }, 'database connection broke; it is discarded'));
  });
  // pg-pool re-emits an idle client's error here after discarding it; the client's listener logged it.
  pool.on('error', () => undefined);
  return pool;
}

/** One connection for one-off work (dialect detection, CREATE DATABASE, seeds), always closed after. */
export async function withClient<T>(settings: pg.ClientConfig, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(settings);
  // A server that drops the connection between queries emits 'error'; the next query fails with it.
  client.on('error', () => undefined);
  // A failed connect has already closed its socket.
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Runs `step` until it succeeds, waiting with exponential backoff and jitter (each wait logged)
 * for as long as the database is unavailable: start-up rides out an outage of any length instead
 * of crashing. Any other failure is thrown at once.
 */
export async function retryWhileUnavailable<T>(
  what: string,
  step: () => Promise<T>,
  backoff: Backoff,
  logger: Logger,
  /** Given up after this long (a one-off command); a pod waits for as long as it takes. */
  wait_max_ms = Number.POSITIVE_INFINITY,
): Promise<T> {
  const give_up_at_ms = Date.now() + wait_max_ms;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      if (Date.now() >= give_up_at_ms) throw asUnavailable(error);
      const delay_ms = Math.min(backoffDelayMs(attempt, backoff), Math.max(0, give_up_at_ms - Date.now()));
      logger.warn({ step: what, attempt, delay_ms, reason: describe(error) }, 'database unavailable; waiting before trying again');
      await sleep(delay_ms);
    }
  }
}

/** The start-up wait of a process for the database of `config`. */
export function databaseWaitBackoff(config: Config): Backoff {
  return { initial_ms: config.db_wait_backoff_initial_ms, max_ms: config.db_wait_backoff_max_ms };
}
