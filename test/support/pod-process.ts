import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const POD_SCRIPT = fileURLToPath(new URL('../../src/cli/pod.ts', import.meta.url));
const READY_WITHIN_MS = 60_000;
const STOP_WITHIN_MS = 10_000;

export interface PodProcess {
  region: string;
  url: string;
  child: ChildProcess;
  /** What the pod wrote to stdout and stderr (the last 20,000 characters), when captured. */
  output(): string;
}

export interface StartingPod extends PodProcess {
  /** Resolves once the pod reported ready; rejects if it exits first or takes longer than READY_WITHIN_MS. */
  ready: Promise<void>;
}

/** Forks one real pod process (`src/cli/pod.ts`) for `region` on a free port, without waiting for it. */
export async function startPodProcess(
  region: string,
  env: Record<string, string>,
  options: { capture_output?: boolean } = {},
): Promise<StartingPod> {
  const port = await freePort();
  const stdio = options.capture_output ? 'pipe' : 'inherit';
  const child = fork(POD_SCRIPT, ['--region', region, '--port', String(port)], {
    execArgv: ['--import', 'tsx'],
    // KYC limits off unless asked for, as in testConfig (test/support/cluster.ts).
    env: { ...process.env, REGIONS: region, KYC_LIMITS_ENABLED: 'false', ...env },
    stdio: ['ignore', stdio, stdio, 'ipc'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pod ${region} not ready within ${READY_WITHIN_MS} ms`)), READY_WITHIN_MS);
    child.on('message', (message: { type?: string }) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`pod ${region} exited before it was ready (${code ?? signal})`));
    });
  });
  // Whoever awaits `ready` sees the failure; a test that never does must not fail on it.
  ready.catch(() => undefined);
  return { region, url: `http://127.0.0.1:${port}`, child, output: () => output, ready };
}

/** One real pod process for `region`, on a free port; resolves once it reported ready. */
export async function forkPod(region: string, env: Record<string, string>): Promise<PodProcess> {
  const pod = await startPodProcess(region, env);
  await pod.ready.catch((error: unknown) => {
    pod.child.kill('SIGKILL');
    throw error;
  });
  return pod;
}

export function exited(pod: PodProcess): Promise<void> {
  if (pod.child.exitCode !== null || pod.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => pod.child.once('exit', () => resolve()));
}

/** SIGTERM (the pod drains), SIGKILL if it has not exited in time. */
export async function stopPodProcess(pod: PodProcess): Promise<void> {
  const done = exited(pod);
  pod.child.kill('SIGTERM');
  const timer = setTimeout(() => pod.child.kill('SIGKILL'), STOP_WITHIN_MS);
  await done;
  clearTimeout(timer);
}

/** A process of the project run as a user would (`node --import tsx <script>`), leading a process group of its own. */
export interface DetachedProcess {
  child: ChildProcess;
  /** Also the group's id: `process.kill(-pid, signal)` reaches the children it spawned. */
  pid: number;
  done: boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last 4,000 characters it wrote to stdout and stderr, without lines that print tokens (for failure messages). */
  output(): string;
  /** The last 200,000 characters it wrote, as written (for parsing its log lines). */
  log(): string;
}

/**
 * Spawns `script` (relative to the project root) with the test runner's database, region and
 * vitest variables removed from the environment and `env` added, so that it finds its settings
 * the way a user's shell would give them.
 */
export function spawnDetached(script: string, args: readonly string[], env: Record<string, string>): DetachedProcess {
  const environment: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(environment)) {
    if (name === 'DATABASE_URL' || name === 'TEST_DATABASE_URL' || name === 'REGIONS' || name.startsWith('VITEST')) {
      delete environment[name];
    }
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...environment, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const spawned: DetachedProcess = {
    child,
    pid: child.pid!,
    done: false,
    output: () =>
      output
        .split('\n')
        .filter((line) => !line.includes('token'))
        .join('\n')
        .slice(-4000),
    log: () => output,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        spawned.done = true;
        resolve({ code, signal });
      }),
    ),
  };
  return spawned;
}
