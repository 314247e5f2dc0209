import { migrateDatabase } from '../db/migrate.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { loadTopology } from '../platform/regions.js';
import { commandArgs, reportFailures } from './command.js';
import { resolveDatabase } from './database-url.js';

// `npm run migrate`: applies migrations, region DDL (CockroachDB) and seeds, then exits; it waits
// for a database that cannot serve yet (as pods do). No arguments: settings come from the environment.
const USAGE = 'usage: npm run migrate   (DATABASE_URL, DB_DIALECT and the other settings from the environment: see README)';
reportFailures('migrate', USAGE);
commandArgs({ options: {} }, USAGE);
const config = loadConfig();
const logger = createLogger({ level: config.log_level, name: 'migrate' });
const database = await resolveDatabase(config, logger);
try {
  await migrateDatabase({ config, url: database.url, topology: loadTopology(), logger });
  logger.info('database is up to date');
} finally {
  await database.embedded?.stop();
}
