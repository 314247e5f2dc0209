import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { MIGRATIONS } from '../../migrations/index.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import type { Topology } from '../platform/regions.js';
import { applyMultiRegionDdl } from './cockroach/multi-region-ddl.js';
import { retryWhileUnavailable, sessionSettings, databaseWaitBackoff, withClient } from './connections.js';
import { type Dialect, waitForDatabase } from './database.js';
import { MIGRATIONS_TABLE } from './migration-status.js';
import { SEEDS } from './seeds.js';
import { PreparedStatements, SqlTx } from './sql.js';

export interface MigrateOptions {
  config: Config;
  url: string;
  topology: Topology;
  logger: Logger;
  application_name?: string;
}

// CockroachDB's version() is not parseable by knex's PostgreSQL dialect; pinning a version skips
// the check (COCKROACH.md). The value only steers knex's SQL generation for PostgreSQL features.
const COCKROACH_KNEX_VERSION = '13.0.0';
/** Migrations run one statement at a time: two connections are plenty. */
const MIGRATION_POOL_MAX = 2;

function ormOptions(options: MigrateOptions, application_name: string, dialect: Dialect): Options {
  const { config } = options;
  return {
    clientUrl: options.url,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: false,
    pool: { min: 0, max: MIGRATION_POOL_MAX, acquireTimeoutMillis: config.db_connect_timeout_ms },
    driverOptions: {
      connection: sessionSettings(config, options.url, application_name),
      acquireConnectionTimeout: config.db_connect_timeout_ms,
      ...(dialect === 'cockroach' ? { version: COCKROACH_KNEX_VERSION } : {}),
    },
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: MIGRATIONS_TABLE,
      // CockroachDB commits an open transaction before DDL, so a migration is never atomic there.
      transactional: dialect === 'postgres',
      allOrNothing: dialect === 'postgres',
      snapshot: false,
      silent: true,
    },
  };
}

/**
 * Brings a database to the current schema: on CockroachDB the database regions first (the
 * migrations need the crdb_internal_region type), then the migrations, then every table's
 * locality, then the idempotent seeds. MikroORM lives only for this call. Safe to run from
 * several processes: a second runner finds the migrations applied. Waits (with backoff) while
 * the database is unavailable, and runs again from the start when it goes away midway.
 */
export async function migrateDatabase(options: MigrateOptions): Promise<void> {
  const application_name = options.application_name ?? 'creditshop:migrate';
  const dialect = await waitForDatabase(options.config, { url: options.url, application_name, logger: options.logger });
  await retryWhileUnavailable(
    'migrate',
    async () => {
      await applyMigrations(options, application_name, dialect);
      await applySeeds(options, application_name);
    },
    databaseWaitBackoff(options.config),
    options.logger,
  );
}

async function applyMigrations(options: MigrateOptions, application_name: string, dialect: Dialect): Promise<void> {
  const orm = await MikroORM.init(ormOptions(options, application_name, dialect));
  try {
    const connection = orm.em.getConnection();
    const client = { query: (sql: string) => connection.execute(sql) };
    const database_name = orm.config.get('dbName') ?? 'defaultdb';
    if (dialect === 'cockroach') await applyMultiRegionDdl(client, options.topology, database_name, 'database');
    const applied = await orm.getMigrator().up();
    if (applied.length > 0) options.logger.info({ migrations: applied.map((migration) => migration.name) }, 'migrations applied');
    if (dialect === 'cockroach') await applyMultiRegionDdl(client, options.topology, database_name, 'tables');
  } finally {
    await orm.close(true);
  }
}

async function applySeeds(options: MigrateOptions, application_name: string): Promise<void> {
  await withClient(sessionSettings(options.config, options.url, `${application_name}:seeds`), async (client) => {
    const tx = new SqlTx(client, new PreparedStatements());
    for (const seed of SEEDS) {
      await client.query('BEGIN');
      try {
        await seed(tx, options.topology);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
  });
}
