import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { request, testConfig, tokens, uniqueId, type ApiResponse } from '../support/cluster.js';
import { forkPod, type PodProcess } from '../support/pod-process.js';

/**
 * The bank test: random transfers, debits and credits between a few accounts from many clients
 * through three real pod processes, pods SIGKILLed and restarted while it runs, and clients that
 * retry every request without a definite answer with the same Idempotency-Key (on another pod),
 * as SPEC §4 tells them to. Afterwards: money is conserved, every acknowledged operation is in the
 * ledger exactly once, and reconciliation is clean. The us-east pod batches by home region, as pods
 * do on CockroachDB (its batches of different regions run at once, beside the others' batches).
 */
const REGIONS = ['eu-west', 'us-east', 'ap-south'];
const ACCOUNTS = 12;
const FUNDING_MINOR = 100_000;
const CLIENTS = 12;
const RUN_MS = 10_000;
const KILL_EVERY_MS = 2_000;
const ATTEMPTS_MAX = 40;

interface Operation {
  key: string;
  kind: 'transfer' | 'debit' | 'credit';
  path: string;
  body: Record<string, unknown>;
  /** The definite answer, once there is one. */
  answer?: ApiResponse;
}

const config = testConfig();
const mint = tokens(config);
let service = '';
const pods: Array<PodProcess | undefined> = [];
const accounts = Array.from({ length: ACCOUNTS }, () => uniqueId('bank'));
let stopping = false;

function livePods(): PodProcess[] {
  return pods.filter((pod): pod is PodProcess => pod !== undefined && pod.child.exitCode === null && pod.child.signalCode === null);
}

async function startPod(index: number): Promise<void> {
  const region = REGIONS[index]!;
  const placement = { BATCH_BY_HOME_REGION: region === 'us-east' ? 'on' : 'off' };
  pods[index] = await forkPod(region, { DATABASE_URL: inject('database_url'), LOG_LEVEL: 'silent', NODE_ENV: 'test', ...placement });
}

/** Sends one operation until it has a definite answer (anything but a connection failure or a 503), same key every time. */
async function settle(operation: Operation): Promise<void> {
  for (let attempt = 1; attempt <= ATTEMPTS_MAX; attempt += 1) {
    const live = livePods();
    const pod = live[Math.floor(Math.random() * live.length)];
    if (pod) {
      const answer = await request(pod.url, 'POST', operation.path, operation.body, { token: service, key: operation.key }).catch(
        () => undefined,
      );
      if (answer && answer.status !== 503) {
        operation.answer = answer;
        return;
      }
    }
    await sleep(50 + Math.random() * 100);
  }
}

function randomOperation(): Operation {
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)]!;
  const amount = 1 + Math.floor(Math.random() * 5_000);
  const roll = Math.random();
  const key = randomUUID();
  if (roll < 0.6) {
    const from = pick();
    let to = pick();
    while (to === from) to = pick();
    return { key, kind: 'transfer', path: '/v1/transfers', body: { from_account_id: from, to_account_id: to, amount, currency: 'EUR' } };
  }
  const account = pick();
  const kind = roll < 0.85 ? 'debit' : 'credit';
  return { key, kind, path: `/v1/accounts/${account}/${kind}s`, body: { amount, currency: 'EUR', reason: 'bank' } };
}

beforeAll(async () => {
  service = await mint.service('accounts:write credits:write admin', `bank-${randomUUID().slice(0, 8)}`);
  await Promise.all(REGIONS.map((_, index) => startPod(index)));
  for (const [index, id] of accounts.entries()) {
    const url = livePods()[index % 3]!.url;
    const opened = await request(
      url,
      'POST',
      '/v1/accounts',
      { id, currency: 'EUR', home_region: REGIONS[index % 3] },
      { token: service, key: randomUUID() },
    );
    expect(opened.status).toBe(201);
    const funded = await request(
      url,
      'POST',
      `/v1/accounts/${id}/credits`,
      { amount: FUNDING_MINOR, currency: 'EUR', reason: 'seed' },
      {
        token: service,
        key: randomUUID(),
      },
    );
    expect(funded.status).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  stopping = true;
  for (const pod of pods) pod?.child.kill('SIGKILL');
});

describe('the bank: many clients, pods SIGKILLed, same-key retries', () => {
  it('conserves money, applies every acknowledged operation exactly once and reconciles clean', { timeout: 120_000 }, async () => {
    const operations: Operation[] = [];
    const end_ms = Date.now() + RUN_MS;
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end_ms) {
        const operation = randomOperation();
        operations.push(operation);
        await settle(operation);
      }
    });
    const restarts: Array<Promise<void>> = [];
    const killer = (async () => {
      while (Date.now() < end_ms - KILL_EVERY_MS && !stopping) {
        await sleep(KILL_EVERY_MS);
        const index = restarts.length % REGIONS.length;
        pods[index]?.child.kill('SIGKILL');
        // The replacement boots while the clients go on with the other pods.
        restarts.push(startPod(index));
      }
    })();
    await Promise.all(clients);
    await killer;
    await Promise.all(restarts);
    expect(restarts.length).toBeGreaterThanOrEqual(4);
    // Whoever was still without an answer asks again now that every pod is up.
    for (const operation of operations.filter((candidate) => candidate.answer === undefined)) await settle(operation);
    expect(operations.filter((operation) => operation.answer === undefined)).toEqual([]);

    const outcome = (operation: Operation) =>
      operation.answer!.status === 201 ? 'ok' : `${operation.answer!.status} ${operation.answer!.body?.code}`;
    const refusals = new Set(operations.map(outcome).filter((label) => label !== 'ok'));
    // Only business answers: insufficient funds (a replayed one included); never a 5xx.
    expect([...refusals].filter((label) => label !== '409 insufficient_funds')).toEqual([]);
    const acknowledged = operations.filter((operation) => operation.answer!.status === 201);
    expect(acknowledged.length).toBeGreaterThan(100);

    const db = new pg.Client({ connectionString: inject('database_url') });
    await db.connect();
    try {
      const ids = acknowledged.map((operation) => operation.answer!.body.id as string);
      const found = await db.query<{ id: string; type: string }>('SELECT id, type FROM ledger_transactions WHERE id = ANY($1::uuid[])', [
        ids,
      ]);
      expect(found.rowCount).toBe(new Set(ids).size);
      expect(new Set(ids).size).toBe(acknowledged.length);
      // Nothing happened without an acknowledgement: the accounts' transactions are the seeds and the acknowledged ones.
      const all = await db.query<{ count: string }>(
        `SELECT count(DISTINCT t.id) AS count FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
         WHERE e.account_id = ANY($1::text[])`,
        [accounts],
      );
      expect(Number(all.rows[0]!.count)).toBe(accounts.length + acknowledged.length);
      const balances = await db.query<{ total: string }>(
        'SELECT sum(balance_minor) AS total FROM wallets WHERE account_id = ANY($1::text[])',
        [accounts],
      );
      const moved = acknowledged.reduce((sum, operation) => {
        const amount = operation.body['amount'] as number;
        return sum + (operation.kind === 'credit' ? amount : operation.kind === 'debit' ? -amount : 0);
      }, 0);
      expect(Number(balances.rows[0]!.total)).toBe(ACCOUNTS * FUNDING_MINOR + moved);
    } finally {
      await db.end();
    }
    const report = await request(livePods()[0]!.url, 'POST', '/v1/admin/reconcile', undefined, { token: service });
    expect(report.body).toEqual({ ok: true, mismatches: [] });
  });
});
