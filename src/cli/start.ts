import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../auth/tokens.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { loadTopology } from '../platform/regions.js';
import { migrate, resolveDatabase } from './database-url.js';

// `npm start`: the embedded database (unless DATABASE_URL is set), migrations and seeds, then one
// pod process per region. A pod that dies is restarted; Ctrl-C drains the pods, then stops the database.
const POD_SCRIPT = fileURLToPath(new URL('./pod.ts', import.meta.url));
const RESTARTS_PER_MINUTE_MAX = 5;

const config = loadConfig();
const topology = loadTopology();
const logger = createLogger({ level: config.log_level, name: 'supervisor' });
const database = await resolveDatabase(config, logger);
await migrate(config, topology, database.url, logger);

const children = new Map<string, ChildProcess>();
const restarts = new Map<string, number[]>();
let stopping = false;

function spawnPod(region: string): Promise<string> {
  const child = fork(POD_SCRIPT, ['--region', region], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DATABASE_URL: database.url, REGIONS: region },
  });
  children.set(region, child);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    logger.error({ region, code, signal }, 'pod exited; restarting');
    void restart(region);
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { type?: string; url?: string }) =>
      message.type === 'ready' ? resolve(message.url ?? '') : undefined,
    );
    child.once('exit', () => (stopping ? resolve('') : reject(new Error(`pod ${region} exited before it was ready`))));
  });
}

async function restart(region: string): Promise<void> {
  const now = Date.now();
  const recent = (restarts.get(region) ?? []).filter((at) => now - at < 60_000);
  if (recent.length >= RESTARTS_PER_MINUTE_MAX) {
    logger.error({ region }, `pod restarted ${RESTARTS_PER_MINUTE_MAX} times within a minute; leaving it down`);
    return;
  }
  restarts.set(region, [...recent, now]);
  await sleep(1000);
  if (!stopping) await spawnPod(region).catch((error: unknown) => logger.error({ err: error, region }, 'restart failed'));
}

async function shutdown(signal: string, exit_code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping pods');
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), config.shutdown_grace_ms + 2000).unref();
        }),
    ),
  );
  await database.embedded?.stop();
  logger.info('stopped');
  process.exit(exit_code);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

const regions = topology.regions.filter((region) => config.regions.includes(region.name));
const urls = await Promise.all(regions.map((region) => spawnPod(region.name).then((url) => [region.name, url] as const))).catch(
  async (error: unknown) => {
    logger.error({ err: error }, 'a pod failed to start');
    await shutdown('startup failure', 1);
    return [];
  },
);
if (!stopping) await printBanner(urls);

async function printBanner(urls: ReadonlyArray<readonly [string, string]>): Promise<void> {
  const settings = { secret: config.auth_jwt_secret, issuer: config.auth_jwt_issuer, audience: config.auth_jwt_audience };
  const admin_token = await mintToken({ sub: 'dev-admin', scope: 'admin', expires_in_seconds: 12 * 3600 }, settings);
  const player_token = await mintToken({ sub: 'player-1', expires_in_seconds: 12 * 3600 }, settings);
  const first = urls[0]?.[1];
  console.log(`
creditshop is running (${database.embedded ? `embedded PostgreSQL under ${config.data_dir}` : 'DATABASE_URL'})
${urls.map(([region, url]) => `  ${region.padEnd(10)} ${url}`).join('\n')}

development admin token (12 h):  ${admin_token}
development player token for player-1 (12 h):  ${player_token}
mint others with: npm run token -- --sub <id> [--scope "credits:write"]

try:
  curl -s -X POST ${first}/v1/accounts -H "Authorization: Bearer ${player_token}" \\
       -H "Idempotency-Key: $(date +%s)" -H "Content-Type: application/json" -d '{"currency":"EUR"}'

Ctrl-C stops the pods and the database.
`);
}
