import pg from 'pg';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { MIGRATIONS } from '../../migrations/index.js';
import type { Config } from '../platform/config.js';
import { ENTITIES } from './entities.js';

export type Dialect = 'postgres' | 'cockroach';

export interface Database {
  /** MikroORM: migrations, entity reads, health checks. */
  orm: MikroORM;
  /** Every transaction and single statement of the use cases (see TransactionRunner). */
  tx_pool: pg.Pool;
  /** A separate small pool for contention row locks (see TransactionRunner.lockAccounts). */
  lock_pool: pg.Pool;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  application_name: string;
  pool_max: number;
}

// CockroachDB's version() is not parseable by knex's PostgreSQL dialect; pinning a version skips
// the check (COCKROACH.md). The value only steers knex's SQL generation for PostgreSQL features.
const COCKROACH_KNEX_VERSION = '13.0.0';

function sessionSettings(config: Config, application_name: string) {
  return {
    application_name,
    statement_timeout: config.db_statement_timeout_ms,
    idle_in_transaction_session_timeout: config.db_idle_in_transaction_timeout_ms,
    connectionTimeoutMillis: config.db_connect_timeout_ms,
    options: '-c TimeZone=UTC',
  };
}

export async function detectDialect(url: string, configured: Dialect | undefined): Promise<Dialect> {
  if (configured) return configured;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ version: string }>('SELECT version() AS version');
    return result.rows[0]?.version.startsWith('CockroachDB') ? 'cockroach' : 'postgres';
  } finally {
    await client.end();
  }
}

export function ormOptions(config: Config, options: DatabaseOptions, dialect: Dialect): Options {
  return {
    clientUrl: options.url,
    entities: ENTITIES,
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: false,
    pool: { min: 0, max: options.pool_max, acquireTimeoutMillis: config.db_connect_timeout_ms },
    driverOptions: {
      connection: sessionSettings(config, options.application_name),
      acquireConnectionTimeout: config.db_connect_timeout_ms,
      ...(dialect === 'cockroach' ? { version: COCKROACH_KNEX_VERSION } : {}),
    },
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: 'schema_migrations',
      // CockroachDB commits an open transaction before DDL, so a migration is never atomic there.
      transactional: dialect === 'postgres',
      allOrNothing: dialect === 'postgres',
      snapshot: false,
      silent: true,
    },
  };
}

/** Idle connections stay open a while, so a quiet pod does not pay to reconnect on its next burst. */
const POOL_IDLE_TIMEOUT_MS = 60_000;
/** MikroORM serves only migrations, entity reads and health checks: a few connections suffice. */
const ORM_POOL_MAX = 4;

const TIMESTAMP_OIDS = new Set([1114, 1184]);
/** Timestamps stay text: a JS Date would drop the microseconds that page cursors compare. */
const TEXT_TIMESTAMPS = {
  getTypeParser: ((oid: number, format?: string) =>
    TIMESTAMP_OIDS.has(oid) ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export async function openDatabase(config: Config, options: DatabaseOptions): Promise<Database> {
  const dialect = await detectDialect(options.url, config.db_dialect);
  const orm = await MikroORM.init(ormOptions(config, { ...options, pool_max: Math.min(options.pool_max, ORM_POOL_MAX) }, dialect));
  const tx_pool = new pg.Pool({
    connectionString: options.url,
    max: options.pool_max,
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
    types: TEXT_TIMESTAMPS,
    ...sessionSettings(config, options.application_name),
  });
  const lock_pool = new pg.Pool({
    connectionString: options.url,
    max: config.db_lock_pool_max,
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
    ...sessionSettings(config, `${options.application_name}:locks`),
  });
  // A broken idle connection is dropped by the pool; the next query gets a fresh one.
  tx_pool.on('error', () => undefined);
  lock_pool.on('error', () => undefined);
  return {
    orm,
    tx_pool,
    lock_pool,
    dialect,
    async close() {
      await Promise.allSettled([orm.close(true), tx_pool.end(), lock_pool.end()]);
    },
  };
}
