import pg from 'pg';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { createPool, retryWhileUnavailable, sessionSettings, databaseWaitBackoff, withClient } from './connections.js';
import { PreparedStatements } from './sql.js';

export type Dialect = 'postgres' | 'cockroach';

/** What a pod has of the database at run time: one traffic pool (no ORM: MikroORM serves migrations only). */
export interface Database {
  /** The pod's one pool: every batch, transaction and statement, and the readiness probe. */
  tx_pool: pg.Pool;
  /** The named prepared statements of this database's connections (see SqlTx). */
  statements: PreparedStatements;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  application_name: string;
  pool_max: number;
  logger: Logger;
  /** How long to wait for a database that cannot serve before giving up (DatabaseUnavailable); a pod waits for good. */
  wait_max_ms?: number;
}

async function detectDialect(config: Config, url: string, application_name: string): Promise<Dialect> {
  const version = await withClient(sessionSettings(config, url, application_name), (client) =>
    client.query<{ version: string }>('SELECT version() AS version'),
  );
  return version.rows[0]?.version.startsWith('CockroachDB') ? 'cockroach' : 'postgres';
}

/**
 * Connects once (the dialect comes from the server unless configured), waiting with backoff for
 * as long as the database is unavailable: a process started during an outage starts when it ends.
 */
export function waitForDatabase(config: Config, options: Omit<DatabaseOptions, 'pool_max'>): Promise<Dialect> {
  const detect = async () => {
    const detected = await detectDialect(config, options.url, options.application_name);
    return config.db_dialect ?? detected;
  };
  return retryWhileUnavailable('connect', detect, databaseWaitBackoff(config), options.logger, options.wait_max_ms);
}

/** Idle connections stay open a while, so a quiet pod does not pay to reconnect on its next burst. */
const POOL_IDLE_TIMEOUT_MS = 60_000;

const TIMESTAMP_OIDS = new Set([1114, 1184]);
/** Timestamps stay text: a JS Date would drop the microseconds that page cursors compare. */
const TEXT_TIMESTAMPS = {
  getTypeParser: ((oid: number, format?: string) =>
    TIMESTAMP_OIDS.has(oid) ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export async function openDatabase(config: Config, options: DatabaseOptions): Promise<Database> {
  const dialect = await waitForDatabase(config, options);
  const tx_pool = createPool(
    {
      ...sessionSettings(config, options.url, options.application_name),
      max: options.pool_max,
      idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
      types: TEXT_TIMESTAMPS,
    },
    'transactions',
    options.logger,
  );
  return {
    tx_pool,
    statements: new PreparedStatements(),
    dialect,
    async close() {
      await tx_pool.end().catch(() => undefined);
    },
  };
}
