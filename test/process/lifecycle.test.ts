import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/tokens.js';
import { DEVELOPMENT_JWT_SECRET } from '../../src/platform/config.js';
import { loadTopology } from '../../src/platform/regions.js';
import { freePort } from '../support/ports.js';
import { spawnDetached, type DetachedProcess } from '../support/pod-process.js';

// `npm start` as a user runs it: real supervisor, real pods, real embedded PostgreSQL under a fresh
// DATA_DIR. Every process is spawned in its own process group so that afterAll (or an abrupt exit
// of the test process) can kill the whole tree.

const TOPOLOGY = loadTopology();
const REGIONS = TOPOLOGY.regions.map((region) => region.name);
const STEP_TIMEOUT_MS = 180_000;
const READY_WITHIN_MS = 60_000;
const RESTART_WITHIN_MS = 20_000;
const EXIT_WITHIN_MS = 20_000;

type Supervisor = DetachedProcess;

interface Health {
  status: string;
  region: string;
  pid: number;
}

let data_dir: string;
let pg_port: number;
let port_offset: number;
const supervisors: Supervisor[] = [];

const portOf = (region: string) => TOPOLOGY.regions.find((candidate) => candidate.name === region)!.port + port_offset;
const urlOf = (region: string) => `http://127.0.0.1:${portOf(region)}`;

function killGroups(signal: NodeJS.Signals): void {
  for (const supervisor of supervisors) {
    try {
      process.kill(-supervisor.pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}
const killOnExit = () => killGroups('SIGKILL');

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function pickPortOffset(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const offset = 20_000 + Math.floor(Math.random() * 10_000);
    const ports = TOPOLOGY.regions.map((region) => region.port + offset);
    if (ports.includes(pg_port)) continue;
    if ((await Promise.all(ports.map(canListen))).every(Boolean)) return offset;
  }
  throw new Error('no free PORT_OFFSET found');
}

function startSupervisor(): Supervisor {
  const supervisor = spawnDetached('src/cli/start.ts', [], {
    NODE_ENV: 'development',
    DATA_DIR: data_dir,
    EMBEDDED_PG_PORT: String(pg_port),
    PORT_OFFSET: String(port_offset),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  });
  supervisors.push(supervisor);
  return supervisor;
}

async function getJson<T>(url: string, token?: string): Promise<{ status: number; region: string | null; body: T }> {
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  return { status: response.status, region: response.headers.get('x-region'), body: (text ? JSON.parse(text) : undefined) as T };
}

/** The region's /health, or undefined while it does not answer 200 with its X-Region. */
/** The pod's /health once it is ready: a pod listens (and its /health is 200) while it still waits for its database. */
async function health(region: string): Promise<Health | undefined> {
  try {
    if ((await getJson(`${urlOf(region)}/ready`)).status !== 200) return undefined;
    const response = await getJson<Health>(`${urlOf(region)}/health`);
    return response.status === 200 && response.region === region && response.body.region === region ? response.body : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor<T>(what: string, within_ms: number, supervisor: Supervisor, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + within_ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (supervisor.done) throw new Error(`supervisor exited while waiting for ${what}; output:\n${supervisor.output()}`);
    if (Date.now() > deadline) throw new Error(`${what} not within ${within_ms} ms; supervisor output:\n${supervisor.output()}`);
    await sleep(100);
  }
}

async function allHealthy(supervisor: Supervisor): Promise<Record<string, Health>> {
  const entries = await Promise.all(
    REGIONS.map(async (region) => [region, await waitFor(`${region} /health`, READY_WITHIN_MS, supervisor, () => health(region))] as const),
  );
  // The banner is printed once every pod has reported ready to the supervisor.
  await waitFor('the startup banner', READY_WITHIN_MS, supervisor, async () =>
    supervisor.output().includes('creditshop is running') ? true : undefined,
  );
  return Object.fromEntries(entries);
}

async function stopWithin(supervisor: Supervisor, within_ms: number) {
  return Promise.race([
    supervisor.exited,
    sleep(within_ms, undefined, { ref: false }).then(() => {
      throw new Error(`supervisor did not exit within ${within_ms} ms after SIGINT; output:\n${supervisor.output()}`);
    }),
  ]);
}

function postmasterPid(): number | undefined {
  const file = path.join(data_dir, 'pg', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  return Number(readFileSync(file, 'utf8').split('\n')[0]);
}

beforeAll(async () => {
  process.on('exit', killOnExit);
  data_dir = await mkdtemp(path.join(tmpdir(), 'creditshop-lifecycle-'));
  pg_port = await freePort();
  port_offset = await pickPortOffset();
});

afterAll(async () => {
  // A test that failed midway leaves a supervisor running: Ctrl-C first (a clean PostgreSQL stop),
  // then SIGKILL whatever is left of each process group. PostgreSQL backends run in their own
  // sessions but exit by themselves once their postmaster is gone.
  const running = supervisors.filter((supervisor) => !supervisor.done);
  for (const supervisor of running) {
    try {
      process.kill(-supervisor.pid, 'SIGINT');
    } catch {
      // Already gone.
    }
  }
  await Promise.race([Promise.all(running.map((supervisor) => supervisor.exited)), sleep(10_000, undefined, { ref: false })]);
  killGroups('SIGKILL');
  await Promise.race([Promise.all(supervisors.map((supervisor) => supervisor.exited)), sleep(5000, undefined, { ref: false })]);
  process.off('exit', killOnExit);
  if (data_dir) await rm(data_dir, { recursive: true, force: true });
});

describe.sequential('npm start (supervisor, pods, embedded PostgreSQL)', () => {
  let first: Supervisor;
  let pods: Record<string, Health>;
  const account_id = `p-${randomUUID().slice(0, 12)}`;
  let token: string;
  let created: Record<string, unknown>;

  it('from a fresh DATA_DIR, starts the database and all three regions answer /health with their X-Region', {
    timeout: STEP_TIMEOUT_MS,
  }, async () => {
    first = startSupervisor();
    pods = await allHealthy(first);
    const pids = REGIONS.map((region) => pods[region]!.pid);
    expect(new Set(pids).size).toBe(REGIONS.length);
    for (const pid of pids) expect(pid).not.toBe(first.pid);
    expect(existsSync(path.join(data_dir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(await listening(pg_port)).toBe(true);
    // The banner names the console next to the pods, and it is served there.
    const console_url = /^ {2}console +(http:\S+\/console)$/m.exec(first.output())?.[1];
    expect(console_url, first.output()).toBeDefined();
    const page = await fetch(console_url!, { signal: AbortSignal.timeout(5000) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('creditshop console');
  });

  it('creates an account through eu-west', { timeout: STEP_TIMEOUT_MS }, async () => {
    token = await mintToken({ sub: account_id, expires_in_seconds: 600 }, { secret: DEVELOPMENT_JWT_SECRET });
    const response = await fetch(`${urlOf('eu-west')}/v1/accounts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Idempotency-Key': randomUUID(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ currency: 'EUR' }),
    });
    created = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(created)).toBe(201);
    expect(response.headers.get('x-region')).toBe('eu-west');
    expect(created).toMatchObject({ id: account_id, kind: 'player', home_region: 'eu-west', wallets: [{ currency: 'EUR', balance: 0 }] });
  });

  it('when the us-east pod is SIGKILLed, the others keep serving and the supervisor restarts it with a new pid', {
    timeout: STEP_TIMEOUT_MS,
  }, async () => {
    const old_pid = pods['us-east']!.pid;
    process.kill(old_pid, 'SIGKILL');

    // Immediately: the other two regions serve, reads included.
    expect(await health('eu-west')).toMatchObject({ region: 'eu-west', pid: pods['eu-west']!.pid });
    expect(await health('ap-south')).toMatchObject({ region: 'ap-south', pid: pods['ap-south']!.pid });
    const read = await getJson<Record<string, unknown>>(`${urlOf('ap-south')}/v1/accounts/${account_id}`, token);
    expect(read.status).toBe(200);
    expect(read.region).toBe('ap-south');
    expect(read.body).toMatchObject({ id: account_id, home_region: 'eu-west' });

    const restarted = await waitFor('us-east restarted with a new pid', RESTART_WITHIN_MS, first, async () => {
      const body = await health('us-east');
      return body && body.pid !== old_pid ? body : undefined;
    });
    expect(restarted.region).toBe('us-east');
    expect(alive(old_pid)).toBe(false);
    // The restarted pod serves the API, and the others were not disturbed.
    const through_us = await getJson<Record<string, unknown>>(`${urlOf('us-east')}/v1/accounts/${account_id}`, token);
    expect(through_us.status).toBe(200);
    expect(through_us.region).toBe('us-east');
    expect((await health('eu-west'))?.pid).toBe(pods['eu-west']!.pid);
    expect((await health('ap-south'))?.pid).toBe(pods['ap-south']!.pid);
    pods['us-east'] = restarted;
  });

  it('on SIGINT the supervisor drains the pods, stops the database and exits 0; nothing is left listening', {
    timeout: STEP_TIMEOUT_MS,
  }, async () => {
    const postmaster = postmasterPid();
    expect(postmaster).toBeGreaterThan(0);
    process.kill(first.pid, 'SIGINT');
    const exit = await stopWithin(first, EXIT_WITHIN_MS);
    expect(exit, `supervisor exit; output:\n${first.output()}`).toEqual({ code: 0, signal: null });

    for (const region of REGIONS) expect(await listening(portOf(region)), `${region} port ${portOf(region)}`).toBe(false);
    expect(await listening(pg_port), `embedded PostgreSQL port ${pg_port}`).toBe(false);
    for (const region of REGIONS) expect(alive(pods[region]!.pid), `${region} pod pid ${pods[region]!.pid}`).toBe(false);
    expect(alive(postmaster!), `postmaster pid ${postmaster}`).toBe(false);
    // A clean PostgreSQL shutdown removes its pid file; a killed one leaves it behind.
    expect(postmasterPid()).toBeUndefined();
  });

  it('started again on the same DATA_DIR, the account is still there; Ctrl-C (SIGINT to the process group) stops it cleanly', {
    timeout: STEP_TIMEOUT_MS,
  }, async () => {
    const second = startSupervisor();
    await allHealthy(second);
    for (const region of ['eu-west', 'ap-south']) {
      const read = await getJson<Record<string, unknown>>(`${urlOf(region)}/v1/accounts/${account_id}`, token);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({
        id: created['id'],
        home_region: created['home_region'],
        kind: created['kind'],
        created_at: created['created_at'],
        wallets: created['wallets'],
      });
    }

    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
    process.kill(-second.pid, 'SIGINT');
    const exit = await stopWithin(second, EXIT_WITHIN_MS);
    expect(exit, `supervisor exit; output:\n${second.output()}`).toEqual({ code: 0, signal: null });
    for (const region of REGIONS) expect(await listening(portOf(region)), `${region} port ${portOf(region)}`).toBe(false);
    expect(await listening(pg_port), `embedded PostgreSQL port ${pg_port}`).toBe(false);
    expect(postmasterPid()).toBeUndefined();
  });
});
