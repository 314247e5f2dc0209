import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../auth/tokens.js';
import { migrateDatabase } from '../db/migrate.js';
import { backoffDelayMs } from '../platform/backoff.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { loadTopology } from '../platform/regions.js';
import { commandArgs, reportFailures } from './command.js';
import { resolveDatabase } from './database-url.js';

// `npm start`: the embedded database (unless DATABASE_URL is set), migrations and seeds, then one
// pod process per region. A pod that exits is restarted, after a delay that grows while it keeps
// exiting: the supervisor never gives up on a region. Ctrl-C drains the pods, then stops the database.
const POD_SCRIPT = fileURLToPath(new URL('./pod.ts', import.meta.url));

interface PodSlot {
  region: string;
  child?: ChildProcess;
  started_at_ms: number;
  /** Exits in a row, each soon after its start; reset once a pod has run for a while. */
  exits_in_a_row: number;
  restart_timer?: NodeJS.Timeout;
  url?: string;
}

const USAGE = 'usage: npm start   (settings from the environment: see README)';
const started = reportFailures('start', USAGE);
commandArgs({ options: {} }, USAGE);
const config = loadConfig();
const topology = loadTopology();
const logger = createLogger({ level: config.log_level, name: 'supervisor' });
const restart_backoff = { initial_ms: config.supervisor_backoff_initial_ms, max_ms: config.supervisor_backoff_max_ms };
const slots = topology.regions
  .filter((region) => config.regions.includes(region.name))
  .map((region): PodSlot => ({ region: region.name, started_at_ms: 0, exits_in_a_row: 0 }));
let database: Awaited<ReturnType<typeof resolveDatabase>> | undefined;
let stopping = false;
let banner_printed = false;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping pods');
  for (const slot of slots) clearTimeout(slot.restart_timer);
  await Promise.all(slots.map((slot) => stopChild(slot.child)));
  await database?.embedded?.stop();
  logger.info('stopped');
  process.exit(0);
}
// Installed before the database wait, so Ctrl-C stops a supervisor that is still waiting.
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

function stopChild(child: ChildProcess | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), config.shutdown_grace_ms + 2000).unref();
  });
}

function spawnPod(slot: PodSlot, url: string): void {
  const child = fork(POD_SCRIPT, ['--region', slot.region], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DATABASE_URL: url, REGIONS: slot.region },
  });
  slot.child = child;
  slot.started_at_ms = Date.now();
  child.on('message', (message: { type?: string; url?: string }) => {
    if (message.type !== 'ready') return;
    slot.url = message.url ?? '';
    if (!banner_printed && slots.every((candidate) => candidate.url !== undefined)) {
      banner_printed = true;
      void printBanner(slots.map((candidate) => [candidate.region, candidate.url!] as const));
    }
  });
  // A pod that could not be started (fork refused: EAGAIN, EMFILE) reports an error and may never
  // exit: it is restarted all the same, once, like one that exited.
  let ended = false;
  const ended_once = (exit: { code: number | null; signal: NodeJS.Signals | null }) => {
    if (ended) return;
    ended = true;
    if (!stopping) scheduleRestart(slot, url, exit);
  };
  child.on('exit', (code, signal) => ended_once({ code, signal }));
  child.on('error', (error) => {
    logger.error({ err: error, region: slot.region }, 'pod process error');
    if (child.pid === undefined) ended_once({ code: null, signal: null });
  });
}

/** Restarts after initial_ms, doubling while the pod keeps exiting soon after its start, up to max_ms. */
function scheduleRestart(slot: PodSlot, url: string, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
  const uptime_ms = Date.now() - slot.started_at_ms;
  slot.exits_in_a_row = uptime_ms >= config.supervisor_backoff_reset_after_ms ? 1 : slot.exits_in_a_row + 1;
  const restart_in_ms = backoffDelayMs(slot.exits_in_a_row, restart_backoff);
  logger.error({ region: slot.region, ...exit, uptime_ms, exits_in_a_row: slot.exits_in_a_row, restart_in_ms }, 'pod exited; restarting');
  slot.restart_timer = setTimeout(() => {
    if (!stopping) spawnPod(slot, url);
  }, restart_in_ms);
}

database = await resolveDatabase(config, logger);
await migrateDatabase({ config, url: database.url, topology, logger });
started();
for (const slot of slots) if (!stopping) spawnPod(slot, database.url);

async function printBanner(urls: ReadonlyArray<readonly [string, string]>): Promise<void> {
  const settings = { secret: config.auth_jwt_secret, issuer: config.auth_jwt_issuer, audience: config.auth_jwt_audience };
  const admin_token = await mintToken({ sub: 'dev-admin', scope: 'admin', expires_in_seconds: 12 * 3600 }, settings);
  const player_token = await mintToken({ sub: 'player-1', expires_in_seconds: 12 * 3600 }, settings);
  const first = urls[0]?.[1];
  console.log(`
creditshop is running (${database?.embedded ? `embedded PostgreSQL under ${config.data_dir}` : 'DATABASE_URL'})
${urls.map(([region, url]) => `  ${region.padEnd(10)} ${url}`).join('\n')}
  ${'console'.padEnd(10)} ${first}/console

development admin token (12 h):  ${admin_token}
development player token for player-1 (12 h):  ${player_token}
mint others with: npm run token -- --sub <id> [--scope "credits:write"]

try:
  curl -s -X POST ${first}/v1/accounts -H "Authorization: Bearer ${player_token}" \\
       -H "Idempotency-Key: $(date +%s)" -H "Content-Type: application/json" -d '{"currency":"EUR"}'

Ctrl-C stops the pods and the database.
`);
}
