import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

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
