import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrateDatabase } from '../../src/db/migrate.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadTopology } from '../../src/platform/regions.js';

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A migrated database of its own on the server of `server_url` (PostgreSQL), for tests and
 * benchmarks whose global state (seller registry, jobs) must not mix with others'. Dropped with
 * drop(), connections and all.
 */
export async function createScratchDatabase(server_url: string, prefix: string): Promise<ScratchDatabase> {
  const base = new URL(server_url);
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await adminQuery(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  await planThroughIndexes(url.toString());
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url.toString(), LOG_LEVEL: 'silent' });
  const logger = createLogger({ level: 'silent' });
  await migrateDatabase({
    config,
    url: url.toString(),
    topology: loadTopology(),
    logger,
    application_name: `creditshop:${prefix}-migrate`,
  });
  return { url: url.toString(), drop: () => adminQuery(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * A test database's tables are tiny, so PostgreSQL plans sequential scans, and under SERIALIZABLE
 * a sequential scan predicate-locks the whole table: every concurrent transaction (of one test
 * file, or of the files running side by side on the shared database) would conflict with every
 * other. Grown tables are read through their indexes; plan so here. Before migrating: the setting
 * applies to the sessions opened after it.
 */
export async function planThroughIndexes(database_url: string): Promise<void> {
  const url = new URL(database_url);
  const name = decodeURIComponent(url.pathname.slice(1));
  await adminQuery(url, `ALTER DATABASE "${name.replaceAll('"', '""')}" SET enable_seqscan = off`);
}

async function adminQuery(server: URL, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
