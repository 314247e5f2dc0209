import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../db/embedded.js';
import { openDatabase } from '../db/database.js';
import { migrateDatabase } from '../db/migrate.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import type { Topology } from '../platform/regions.js';

export const EMBEDDED_DATABASE = 'creditshop';

export function embeddedUrl(config: Config): string {
  return `postgres://postgres:creditshop-local@127.0.0.1:${config.embedded_pg_port}/${EMBEDDED_DATABASE}`;
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * The database this process should use: DATABASE_URL, else the embedded PostgreSQL under
 * DATA_DIR (reused when another process, such as `npm start`, already runs it).
 */
export async function resolveDatabase(config: Config, logger: Logger): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.database_url) return { url: config.database_url };
  const url = embeddedUrl(config);
  if (await reachable(url)) return { url };
  logger.info({ data_dir: config.data_dir, port: config.embedded_pg_port }, 'starting embedded PostgreSQL');
  const embedded = await startEmbeddedPostgres({
    data_dir: config.data_dir,
    port: config.embedded_pg_port,
    database: EMBEDDED_DATABASE,
    durable: true,
    persistent: true,
    max_connections: 300,
    log: (line) => logger.debug({ postgres: line }, 'postgres'),
  });
  return { url: embedded.url, embedded };
}

export async function migrate(config: Config, topology: Topology, url: string, logger: Logger): Promise<void> {
  const db = await openDatabase(config, { url, application_name: 'creditshop:migrate', pool_max: 2 });
  try {
    await migrateDatabase(db, topology, logger);
  } finally {
    await db.close();
  }
}
