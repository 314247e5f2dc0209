import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { loadConfig } from '../src/platform/config.js';
import { createLogger } from '../src/platform/logger.js';
import { loadTopology } from '../src/platform/regions.js';
import { freePort } from '../test/support/ports.js';

const POD_SCRIPT = fileURLToPath(new URL('../src/cli/pod.ts', import.meta.url));
const POD_READY_TIMEOUT_MS = 60_000;
const POD_STOP_TIMEOUT_MS = 15_000;
const DATABASE_NAME = 'creditshop_bench';
const MAX_CONNECTIONS = 300;

interface PodProcess {
  region: string;
  url: string;
  child: ChildProcess;
}

interface BenchDatabase {
  url: string;
  data_dir: string;
  /** The postmaster's process id (its children are the backends). */
  postmaster_pid(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A fresh embedded PostgreSQL in its own temporary DATA_DIR on a free port, migrated and seeded.
 * Not durable (fsync and synchronous_commit off), as in the test suite: the benchmark measures
 * CPU and contention, not the disk of a shared machine.
 */
async function startDatabase(preload_libraries: readonly string[]): Promise<BenchDatabase> {
  const data_dir = await mkdtemp(path.join(tmpdir(), 'creditshop-bench-'));
  let embedded: EmbeddedDatabase | undefined;
  try {
    embedded = await startEmbeddedPostgres({
      data_dir,
      port: await freePort(),
      database: DATABASE_NAME,
      durable: false,
      persistent: false,
      max_connections: MAX_CONNECTIONS,
      log: () => undefined,
      preload_libraries,
    });
    const config = loadConfig({ DATABASE_URL: embedded.url, LOG_LEVEL: 'warn' });
    await migrateDatabase({ config, url: embedded.url, topology: loadTopology(), logger: createLogger({ level: 'warn', name: 'bench' }) });
  } catch (error) {
    await embedded?.stop().catch(() => undefined);
    await rm(data_dir, { recursive: true, force: true });
    throw error;
  }
  const database = embedded;
  return {
    url: database.url,
    data_dir,
    postmaster_pid: async () => Number((await readFile(path.join(data_dir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]),
    async stop() {
      await database.stop().catch(() => undefined);
      await rm(data_dir, { recursive: true, force: true });
    },
  };
}

/** One pod process per region, as `npm start` runs them, against one database URL. */
export class PodSet {
  private readonly pods: PodProcess[] = [];
  private stopping = false;

  static async start(database_url: string, first_pod_exec_argv: readonly string[] = []): Promise<PodSet> {
    const set = new PodSet();
    const regions = loadTopology().regions.map((region) => region.name);
    const started = await Promise.allSettled(
      regions.map((region, index) => startPod(region, database_url, index === 0 ? first_pod_exec_argv : [])),
    );
    for (const result of started) if (result.status === 'fulfilled') set.watch(result.value);
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) {
      await set.stop();
      throw failure.reason;
    }
    return set;
  }

  get urls(): string[] {
    return this.pods.map((pod) => pod.url);
  }

  get pids(): number[] {
    return this.pods.flatMap((pod) => (pod.child.pid === undefined ? [] : [pod.child.pid]));
  }

  /** A pod that dies during the run is reported at once: its clients would only see resets. */
  private watch(pod: PodProcess): void {
    this.pods.push(pod);
    pod.child.once('exit', (code, signal) => {
      if (!this.stopping) console.error(`pod ${pod.region} exited unexpectedly (code ${code}, signal ${signal})`);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.pods.splice(0).map(stopPod));
  }
}

/** The database and the pods of the run; stop() is safe at any point. */
export class BenchCluster {
  private database: BenchDatabase | undefined;
  private readonly pod_sets: PodSet[] = [];

  async start(preload_libraries: readonly string[] = []): Promise<void> {
    this.database = await startDatabase(preload_libraries);
  }

  /** Pods against `database_url` (the database itself, or a proxy in front of it), stopped with the cluster. */
  async startPods(database_url: string, first_pod_exec_argv: readonly string[] = []): Promise<PodSet> {
    const set = await PodSet.start(database_url, first_pod_exec_argv);
    this.pod_sets.push(set);
    return set;
  }

  get database_url(): string {
    if (!this.database) throw new Error('the cluster is not started');
    return this.database.url;
  }

  async postmaster_pid(): Promise<number> {
    if (!this.database) throw new Error('the cluster is not started');
    return this.database.postmaster_pid();
  }

  async stop(): Promise<void> {
    await Promise.all(this.pod_sets.splice(0).map((set) => set.stop()));
    const database = this.database;
    this.database = undefined;
    await database?.stop();
  }
}

async function startPod(region: string, database_url: string, exec_argv: readonly string[]): Promise<PodProcess> {
  const port = await freePort();
  const child = fork(POD_SCRIPT, ['--region', region, '--port', String(port)], {
    execArgv: ['--import', 'tsx', ...exec_argv],
    env: { ...process.env, DATABASE_URL: database_url, LOG_LEVEL: 'warn', NODE_ENV: 'development', SHUTDOWN_GRACE_MS: '2000' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pod ${region} not ready within ${POD_READY_TIMEOUT_MS} ms`)), POD_READY_TIMEOUT_MS);
    child.on('message', (message: { type?: string; url?: string }) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message.url ?? `http://127.0.0.1:${port}`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`pod ${region} exited before it was ready (code ${code}, signal ${signal})`));
    });
  }).catch(async (error: unknown) => {
    await stopPod({ region, url: '', child });
    throw error;
  });
  return { region, url, child };
}

/** SIGTERM (the pod drains and exits, writing a CPU profile if asked), SIGKILL if it hangs. */
async function stopPod(pod: PodProcess): Promise<void> {
  const { child } = pod;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), POD_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
