import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadTopology } from '../../src/platform/regions.js';
import { freePort } from './ports.js';
import { planThroughIndexes } from './scratch-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    database_url: string;
  }
}

/** One real PostgreSQL for the whole run: DATABASE_URL if set, else a throw-away embedded one. */
export default async function setup(project: TestProject) {
  let embedded: EmbeddedDatabase | undefined;
  let data_dir: string | undefined;
  let url = process.env['TEST_DATABASE_URL'] ?? process.env['DATABASE_URL'];
  if (!url) {
    data_dir = await mkdtemp(path.join(tmpdir(), 'creditshop-test-'));
    embedded = await startEmbeddedPostgres({
      data_dir,
      port: await freePort(),
      database: 'creditshop_test',
      durable: false,
      persistent: false,
      max_connections: 400,
      log: () => undefined,
    });
    url = embedded.url;
  }
  await planThroughIndexes(url);
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, LOG_LEVEL: 'silent' });
  const logger = createLogger({ level: 'silent' });
  await migrateDatabase({ config, url, topology: loadTopology(), logger, application_name: 'creditshop:test-migrate' });
  project.provide('database_url', url);
  return async () => {
    await embedded?.stop();
    if (data_dir) await rm(data_dir, { recursive: true, force: true });
  };
}
