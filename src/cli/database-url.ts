import { withClient } from '../db/connections.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../db/embedded.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';

export const EMBEDDED_DATABASE = 'creditshop';

export function embeddedUrl(config: Config): string {
  return `postgres://postgres:creditshop-local@127.0.0.1:${config.embedded_pg_port}/${EMBEDDED_DATABASE}`;
}

/** How long a probe waits for an embedded PostgreSQL that another process (`npm start`) runs. */
const PROBE_TIMEOUT_MS = 1000;

async function reachable(url: string): Promise<boolean> {
  return withClient({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS }, async () => true).catch(() => false);
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
