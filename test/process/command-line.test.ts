import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';

// The command line tools as a person runs them: a mistake (an argument, a setting, a database that
// cannot serve) is one line naming it and exit 2, never a stack trace; nothing waits forever.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STACK_FRAME = /^\s+at /m;

/** Runs a tool; a setting given as undefined is left out of its environment. */
function run(
  script: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const settings = Object.fromEntries(
    Object.entries({ ...process.env, LOG_LEVEL: 'silent', ...env }).filter(([, value]) => value !== undefined),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      { cwd: ROOT, env: settings, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('command line tools', () => {
  it('when a token is asked with bad arguments, then the usage and exit 2; never a token the service would refuse', async () => {
    for (const args of [['--sub'], ['--bogus'], ['--sub', 'p1', 'extra'], ['--sub', 'bad sub!'], ['--sub', 'p1', '--ttl', '1e20']]) {
      const answer = await run('src/cli/token.ts', args);
      expect(answer, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(answer.stderr).toContain('usage: npm run token');
      expect(answer.stderr).not.toMatch(STACK_FRAME);
    }
    expect((await run('src/cli/token.ts', ['--help'])).code).toBe(0);
    const minted = await run('src/cli/token.ts', ['--sub', 'p1', '--ttl', '60']);
    expect(minted).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ey[\w-]+\.[\w-]+\.[\w-]+\n$/) });
  });

  it('when reconcile cannot reach its database, then it gives up after --wait-s with one line and exit 2', async () => {
    const started_ms = Date.now();
    const answer = await run('src/cli/reconcile.ts', ['--wait-s', '1'], { DATABASE_URL: 'postgres://postgres:x@127.0.0.1:1/none' });
    expect(answer.code).toBe(2);
    expect(answer.stderr.trim()).toBe('reconcile: the database cannot serve (unreachable); gave up waiting');
    expect(Date.now() - started_ms).toBeLessThan(20_000);
    expect((await run('src/cli/reconcile.ts', ['--bogus'])).code).toBe(2);
  });

  it('when its embedded database cannot start (its port taken), then one line says where to look, and exit 2', async () => {
    const port = await freePort();
    const squatter = createServer().listen(port, '127.0.0.1');
    const data_dir = await mkdtemp(path.join(tmpdir(), 'creditshop-embedded-'));
    try {
      const answer = await run('src/cli/reconcile.ts', [], { DATABASE_URL: undefined, DATA_DIR: data_dir, EMBEDDED_PG_PORT: String(port) });
      expect(answer.code).toBe(2);
      expect(answer.stderr).toMatch(new RegExp(`^reconcile: the embedded PostgreSQL did not start on EMBEDDED_PG_PORT ${port}`));
      expect(answer.stderr).not.toMatch(STACK_FRAME);
    } finally {
      squatter.close();
      await rm(data_dir, { recursive: true, force: true });
    }
  });

  it('when a pod starts in production with a weak secret, then one line names the setting, not the secret, and exit 2', async () => {
    const hex = (seed: string) => `${seed}0123456789abcdef0123456789abcdef`;
    const answer = await run('src/cli/pod.ts', ['--region', 'eu-west'], {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://u:p@127.0.0.1:1/shop',
      AUTH_JWT_SECRET: ' '.repeat(32),
      PSP_WEBHOOK_SECRET: hex('psp'),
      PAYOUT_WEBHOOK_SECRET: hex('payout'),
      WEBHOOK_SECRETS_KEY: hex('webhooks'),
    });
    expect(answer.code).toBe(2);
    expect(answer.stderr).toMatch(/^pod: refusing to start in production: AUTH_JWT_SECRET is too weak/);
    expect(answer.stderr).not.toMatch(STACK_FRAME);
  });
});
