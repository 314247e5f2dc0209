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

// Installed first: a pod still waiting for its database stops as promptly as a serving one.
let pod: Pod | undefined;
let database: Awaited<ReturnType<typeof resolveDatabase>> | undefined;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'draining');
  await pod?.stop();
  await database?.embedded?.stop();
  process.exit(0);
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
