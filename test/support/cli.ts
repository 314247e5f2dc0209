import { spawn } from 'node:child_process';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the project's command-line tools (`src/cli/<name>.ts`) as a real process, to its end.
 * `pipe_to`: its output goes through a shell pipe to that command (`cat`, `head -c 100`), as in
 * `npm run reconcile | jq`, which a process can exit before it has drained, or a reader close
 * early (the pipe Node gives a child is a socket, which behaves otherwise). The exit code is the tool's.
 */
export function runCli(name: string, args: string[], env: Record<string, string>, pipe_to?: string): Promise<CliRun> {
  const piped = pipe_to !== undefined;
  const command = [process.execPath, '--import', 'tsx', `src/cli/${name}.ts`, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(
      piped ? 'bash' : command[0]!,
      piped ? ['-c', `"$@" | ${pipe_to}; exit \${PIPESTATUS[0]}`, 'bash', ...command] : command.slice(1),
      {
        env: { ...process.env, LOG_LEVEL: 'silent', NODE_ENV: 'test', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
