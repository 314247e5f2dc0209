import { openDatabase } from '../db/database.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { loadTopology } from '../platform/regions.js';
import { toolDeps } from '../pod.js';
import { reconcile } from '../reconciliation/reconcile.js';
import { resolveDatabase } from './database-url.js';

// `npm run reconcile`: verifies the ledger invariants; prints the report and exits 1 on any mismatch.
const config = loadConfig();
const topology = loadTopology();
const region = config.regions[0]!;
const logger = createLogger({ level: config.log_level === 'info' ? 'warn' : config.log_level, name: 'reconcile' });
const database = await resolveDatabase(config, logger);
const db = await openDatabase(config, { url: database.url, application_name: 'creditshop:reconcile', pool_max: 2, logger });
let ok = false;
try {
  const deps = toolDeps({ config, topology, region, database_url: database.url, logger }, db);
  const report = await reconcile(deps);
  ok = report.ok;
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  await db.close();
  await database.embedded?.stop();
}
process.exit(ok ? 0 : 1);
