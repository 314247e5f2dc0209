import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadTopology } from '../../src/platform/regions.js';
import { freePort } from './ports.js';

/**
 * A migrated PostgreSQL server of a test file's own (the suite's shared one is never touched), for
 * tests that shut it down, stall it and start it again under real pods: its data survive a
 * restart and its URL stays the same, as a production database's does.
 */
export interface RestartablePostgres {
  readonly url: string;
  running(): boolean;
  start(): Promise<void>;
  /** A fast shutdown: SIGINT to the postmaster (what `pg_ctl stop -m fast` sends); resolves once it exited. */
  stop(): Promise<void>;
  /**
   * Freezes the whole server: the postmaster first (so it forks no new backend), then every process
   * it had forked. Returns them all, for `signalAll(stalled, 'SIGCONT')`.
   */
  stall(): number[];
  /** Stops the server (resuming it first if stalled) and removes its data. */
  destroy(): Promise<void>;
}

/**
 * Pod settings for such tests: short database timeouts and waits, so that a pod notices an outage
 * within a second, answers 503 meanwhile and serves again soon after the database is back.
 */
export const QUICK_DATABASE_RECOVERY = {
  DB_CONNECT_TIMEOUT_MS: '500',
  DB_STATEMENT_TIMEOUT_MS: '2000',
  DB_QUERY_TIMEOUT_MS: '2500',
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '1000',
  DB_WAIT_BACKOFF_INITIAL_MS: '100',
  DB_WAIT_BACKOFF_MAX_MS: '1000',
  READY_PROBE_TIMEOUT_MS: '800',
  WORKER_INTERVAL_MS: '200',
  WORKER_BACKOFF_MAX_MS: '1000',
};

export async function startRestartablePostgres(database: string): Promise<RestartablePostgres> {
  const data_dir = await mkdtemp(path.join(tmpdir(), `creditshop-${database}-`));
  const port = await freePort();
  let server: EmbeddedDatabase | undefined;
  let url = '';
  const postmasterPid = () => Number(readFileSync(path.join(data_dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const restartable: RestartablePostgres = {
    get url() {
      return url;
    },
    running: () => server !== undefined,
    async start() {
      server = await startEmbeddedPostgres({
        data_dir,
        port,
        database,
        durable: false,
        persistent: true,
        max_connections: 200,
        log: () => undefined,
      });
      url = server.url;
    },
    async stop() {
      await server?.stop();
      server = undefined;
    },
    stall() {
      const postmaster = postmasterPid();
      signalAll([postmaster], 'SIGSTOP');
      const children = childrenOf(postmaster);
      signalAll(children, 'SIGSTOP');
      return [postmaster, ...children];
    },
    async destroy() {
      if (server) {
        signalAll([postmasterPid(), ...childrenOf(postmasterPid())], 'SIGCONT');
        await restartable.stop();
      }
      await rm(data_dir, { recursive: true, force: true });
    },
  };
  await restartable.start();
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, LOG_LEVEL: 'silent' });
  await migrateDatabase({ config, url, topology: loadTopology(), logger: createLogger({ level: 'silent' }) });
  return restartable;
}

/** The processes whose parent is `parent` (Linux /proc; the parent pid is the 4th field of stat). */
export function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

export function signalAll(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  }
}
