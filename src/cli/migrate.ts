import { migrateDatabase } from '../db/migrate.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { loadTopology } from '../platform/regions.js';
import { resolveDatabase } from './database-url.js';

// `npm run migrate`: applies migrations, region DDL (CockroachDB) and seeds, then exits.
const config = loadConfig();
const logger = createLogger({ level: config.log_level, name: 'migrate' });
const database = await resolveDatabase(config, logger);
try {
  await migrateDatabase({ config, url: database.url, topology: loadTopology(), logger });
  logger.info('database is up to date');
} finally {
  await database.embedded?.stop();
}
