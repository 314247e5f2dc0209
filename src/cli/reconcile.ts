import { openDatabase } from '../db/database.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { loadTopology } from '../platform/regions.js';
import { toolDeps } from '../pod.js';
import { reconcile } from '../reconciliation/reconcile.js';
import { commandArgs, reportFailures, wholeNumber } from './command.js';
import { resolveDatabase } from './database-url.js';

// `npm run reconcile`: verifies the ledger invariants; prints the report and exits 1 on any
// mismatch, 2 when it could not run (a setting, a database that cannot serve within --wait-s).
const WAIT_MAX_S = 3600;
const USAGE = `usage: npm run reconcile [-- --wait-s <seconds>]
  --wait-s  how long to wait for a database that cannot serve before giving up (default 60, at most ${WAIT_MAX_S})`;
reportFailures('reconcile', USAGE);
const { values } = commandArgs({ options: { 'wait-s': { type: 'string', default: '60' } } }, USAGE);
const wait_s = wholeNumber('wait-s', values['wait-s'], 0, WAIT_MAX_S);
const config = loadConfig();
const topology = loadTopology();
const region = config.regions[0]!;
const logger = createLogger({ level: config.log_level === 'info' ? 'warn' : config.log_level, name: 'reconcile' });
const database = await resolveDatabase(config, logger);
let ok = false;
try {
  const db = await openDatabase(config, {
    url: database.url,
    application_name: 'creditshop:reconcile',
    pool_max: 2,
    logger,
    wait_max_ms: wait_s * 1000,
  });
  try {
    const deps = toolDeps({ config, topology, region, database_url: database.url, logger }, db);
    const report = await reconcile(deps);
    ok = report.ok;
    // Written out before the exit below: a pipe (`| jq`) took only its first 64 KiB otherwise. A
    // reader that has seen enough (`| head`) closes it: that is no failure of the reconciliation.
    const text = `${JSON.stringify(report, null, 2)}\n`;
    const closedByReader = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';
    process.stdout.on('error', (error) => {
      if (!closedByReader(error)) throw error;
    });
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(text, (error) => (!error || closedByReader(error) ? resolve() : reject(error))),
    );
  } finally {
    await db.close();
  }
} finally {
  await database.embedded?.stop();
}
process.exit(ok ? 0 : 1);
