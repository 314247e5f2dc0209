import { setTimeout as sleep } from 'node:timers/promises';
import { migrateDatabase } from '../db/migrate.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { loadTopology } from '../platform/regions.js';
import { startPod, type Pod } from '../pod.js';
import { commandArgs, reportFailures } from './command.js';
import { resolveDatabase } from './database-url.js';

// One pod (one region) in this process: `npm run pod -- --region us-east [--port 3002]`.
const USAGE = 'usage: npm run pod -- [--region <name from regions/regions.json>] [--port <port>]';
const started = reportFailures('pod', USAGE);
const { values } = commandArgs({ options: { region: { type: 'string' }, port: { type: 'string' } } }, USAGE);
const topology = loadTopology();
const config = loadConfig();
const region = values.region ?? config.regions[0]!;
const spec = topology.regions.find((candidate) => candidate.name === region);
if (!spec) {
  console.error(`unknown region ${region}; regions/regions.json has ${topology.regions.map((r) => r.name).join(', ')}`);
  process.exit(2);
}
const logger = createLogger({ level: config.log_level, region });
/** After SHUTDOWN_GRACE_MS, what a drain may still take to close its pools before the pod exits regardless. */
const SHUTDOWN_CLEANUP_MS = 2000;

// Installed first: a pod still waiting for its database stops as promptly as a serving one.
let pod: Pod | undefined;
let database: Awaited<ReturnType<typeof resolveDatabase>> | undefined;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'draining');
  // With the database stalled, each step of the drain would wait out its query timeout (a pod took
  // 25 s against a 10 s grace): past the grace and a moment to clean up, the pod exits all the
  // same. What it had not committed is rolled back with its connections; clients retry their keys.
  const drain_ms = config.shutdown_grace_ms + SHUTDOWN_CLEANUP_MS;
  const drained = await Promise.race([
    (pod?.stop() ?? Promise.resolve()).then(
      () => true,
      (error: unknown) => {
        logger.error({ err: error }, 'the drain failed');
        return false;
      },
    ),
    sleep(drain_ms, false, { ref: false }),
  ]);
  if (!drained) logger.warn({ drain_ms }, 'the drain did not finish within the grace (is the database stalled?): exiting without it');
  // An embedded database goes with the pod either way, within its own bound.
  const stopped = database?.embedded?.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping the database failed'));
  await Promise.race([stopped, sleep(SHUTDOWN_CLEANUP_MS, undefined, { ref: false })]);
  process.exit(drained ? 0 : 1);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('disconnect', () => void shutdown('parent exited'));

database = await resolveDatabase(config, logger);
if (database.embedded) await migrateDatabase({ config, url: database.url, topology, logger });
pod = await startPod({
  config,
  topology,
  region,
  database_url: database.url,
  host: config.host,
  port: values.port ? Number(values.port) : spec.port + config.port_offset,
  process_metrics: true,
  run_workers: true,
  logger,
});
started();
logger.info({ url: pod.url }, 'pod listening');
process.send?.({ type: 'ready', region, url: pod.url });
