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
}

/** One real pod process (`src/cli/pod.ts`) for `region`, on a free port; resolves once it reported ready. */
export async function forkPod(region: string, env: Record<string, string>): Promise<PodProcess> {
  const port = await freePort();
  const child = fork(POD_SCRIPT, ['--region', region, '--port', String(port)], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, REGIONS: region, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
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
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { region, url: `http://127.0.0.1:${port}`, child };
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
