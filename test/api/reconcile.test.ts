import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrateDatabase } from '../../src/db/migrate.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadTopology } from '../../src/platform/regions.js';
import { runCli } from '../support/cli.js';
import { request, startCluster } from '../support/cluster.js';
import { key, ledgerHarness, type LedgerHarness } from '../support/ledger.js';
import { shopHarness } from '../support/shop.js';

// This file corrupts balances on purpose. It does so in a database of its own, so that the
// other test files (which reconcile the shared database) never see the corruption.
const database_name = `creditshop_reconcile_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
let database_url: string;
let h: LedgerHarness | undefined;
let sql: pg.Client;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('database_url') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin((client) => client.query(`CREATE DATABASE ${database_name}`));
  const url = new URL(inject('database_url'));
  url.pathname = `/${database_name}`;
  database_url = url.toString();
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: database_url, LOG_LEVEL: 'silent' });
  const logger = createLogger({ level: 'silent' });
  await migrateDatabase({
    config,
    url: database_url,
    topology: loadTopology(),
    logger,
    application_name: 'creditshop:test-reconcile-migrate',
  });
  h = await ledgerHarness(await startCluster({ env: { DATABASE_URL: database_url, DB_POOL_MAX: '4' } }));
  sql = new pg.Client({ connectionString: database_url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await h?.cluster.stop();
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${database_name} WITH (FORCE)`));
});

/** `npm run reconcile` against this file's database. */
function reconcileCli(pipe_to?: string) {
  return runCli('reconcile', [], { DATABASE_URL: database_url }, pipe_to);
}

/** Runs `work` with a wallet column moved by `delta` behind the ledger's back, always putting it back. */
async function withCorruptedWallet<T>(
  account_id: string,
  column: 'balance_minor' | 'held_minor',
  delta: number,
  work: () => Promise<T>,
): Promise<T> {
  const changed = await sql.query(`UPDATE wallets SET ${column} = ${column} + $1 WHERE account_id = $2 AND currency = 'EUR'`, [
    delta,
    account_id,
  ]);
  expect(changed.rowCount).toBe(1);
  try {
    return await work();
  } finally {
    await sql.query(`UPDATE wallets SET ${column} = ${column} - $1 WHERE account_id = $2 AND currency = 'EUR'`, [delta, account_id]);
  }
}

describe('reconciliation', () => {
  it('when the ledger has only gone through the API, then reconciliation reports it clean', async () => {
    const a = await h!.openAccount(1_000, { home_region: 'us-east' });
    const b = await h!.openAccount(400, { home_region: 'ap-south' });
    expect(
      (
        await request(
          h!.pod(1),
          'POST',
          `/v1/accounts/${a}/debits`,
          { amount: 250, currency: 'EUR', reason: 'x' },
          { token: h!.service, key: key() },
        )
      ).status,
    ).toBe(201);
    expect(
      (
        await request(
          h!.pod(2),
          'POST',
          '/v1/transfers',
          { from_account_id: b, to_account_id: a, amount: 100, currency: 'EUR' },
          { token: h!.service, key: key() },
        )
      ).status,
    ).toBe(201);
    await h!.expectReconcileClean();
  });

  it('when a balance is changed by raw SQL, then API and CLI (exit non-zero) report wallet_balance; restored, both are clean', async () => {
    const id = await h!.openAccount(1_000, { home_region: 'eu-west' });
    await withCorruptedWallet(id, 'balance_minor', 37, async () => {
      const report = await h!.reconcile();
      expect(report.ok).toBe(false);
      expect(report.mismatches).toEqual(
        expect.arrayContaining([
          { check: 'wallet_balance', account_id: id, currency: 'EUR', expected: 1_000, actual: 1_037 },
          { check: 'wallet_last_balance_after', account_id: id, currency: 'EUR', expected: 1_000, actual: 1_037 },
        ]),
      );
      expect(report.mismatches.every((mismatch) => mismatch.account_id === id)).toBe(true);

      const cli = await reconcileCli();
      expect(cli.code).toBe(1);
      const printed = JSON.parse(cli.stdout);
      expect(printed.ok).toBe(false);
      expect(printed.mismatches).toEqual(report.mismatches);
    });
    await h!.expectReconcileClean();
    const cli = await reconcileCli();
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual({ ok: true, mismatches: [] });
  });

  it('when the report is larger than a pipe holds, then the CLI prints all of it before it exits; a reader may stop early', async () => {
    const id = await h!.openAccount(1_000);
    // 800 copies of the account and its wallet, out of step with the ledger (no entry for them): over 64 KiB of mismatches.
    const copy = async (table: string, key: string, changed: string) => {
      const { rows } = await sql.query<{ column_name: string }>(
        'SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND NOT (column_name = ANY($2::text[]))',
        [table, [key, ...Object.keys(JSON.parse(changed))]],
      );
      const kept = rows.map((row) => `"${row.column_name}"`).join(', ');
      const values = Object.values(JSON.parse(changed) as Record<string, string>).join(', ');
      const names = Object.keys(JSON.parse(changed)).join(', ');
      await sql.query(
        `INSERT INTO ${table} (${key}, ${names}${names ? ', ' : ''}${kept})
         SELECT 'ghost-' || g, ${values}${values ? ', ' : ''}${kept} FROM ${table}, generate_series(1, 800) AS g WHERE ${key} = $1`,
        [id],
      );
    };
    await copy('accounts', 'id', '{}');
    await copy('wallets', 'account_id', '{"balance_minor":"1"}');
    try {
      const cli = await reconcileCli('cat');
      expect(cli.stdout.length).toBeGreaterThan(65_536);
      expect(cli.code).toBe(1);
      expect(JSON.parse(cli.stdout).mismatches.length).toBeGreaterThanOrEqual(800);
      // A reader that stops early (`| head`) is no failure of the tool: its exit code still tells.
      const headed = await reconcileCli('head -c 100');
      expect([headed.code, headed.stderr]).toEqual([1, '']);
    } finally {
      await sql.query("DELETE FROM wallets WHERE account_id LIKE 'ghost-%'");
      await sql.query("DELETE FROM accounts WHERE id LIKE 'ghost-%'");
    }
    await h!.expectReconcileClean();
  });

  it('when a wallet holds more than its active holds, then a wallet_held mismatch is reported until restored', async () => {
    const id = await h!.openAccount(1_000);
    const hold = await request(
      h!.pod(0),
      'POST',
      '/v1/holds',
      { account_id: id, amount: 200, currency: 'EUR', expires_in_seconds: 600 },
      { token: h!.service, key: key() },
    );
    expect(hold.status).toBe(201);
    await withCorruptedWallet(id, 'held_minor', 5, async () => {
      const report = await h!.reconcile();
      expect(report).toEqual({
        ok: false,
        mismatches: [{ check: 'wallet_held', account_id: id, currency: 'EUR', expected: 200, actual: 205 }],
      });
    });
    await h!.expectReconcileClean();
  });

  it('when a refunded order keeps a unit of its item, then refunded_order_entitlements is reported until restored', async () => {
    const shop = await shopHarness(h!.urls, h!.cluster.config);
    const buyer = await shop.player(1_000);
    const lines = [{ item_id: await shop.putItem({ price: 300 }), quantity: 2 }];
    const order = await request(h!.pod(0), 'POST', '/v1/orders', { account_id: buyer.id, lines }, { token: h!.service, key: key() });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    const refund = { reason: 'returned' };
    expect(
      (await request(h!.pod(1), 'POST', `/v1/orders/${order.body.id}/refunds`, refund, { token: shop.refunds, key: key() })).status,
    ).toBe(201);
    await h!.expectReconcileClean();
    await sql.query("UPDATE entitlements SET status = 'ACTIVE', revoked_quantity = 1 WHERE order_id = $1", [order.body.id]);
    try {
      expect(await h!.reconcile()).toEqual({
        ok: false,
        mismatches: [{ check: 'refunded_order_entitlements', order_id: order.body.id, account_id: buyer.id, expected: 0, actual: 1 }],
      });
    } finally {
      await sql.query("UPDATE entitlements SET status = 'REVOKED', revoked_quantity = quantity WHERE order_id = $1", [order.body.id]);
    }
    await h!.expectReconcileClean();
  });

  it('when a system account passes 2^53 minor units, then its balance is exact JSON and reconciliation reports it in digits', async () => {
    await h!.openAccount(100);
    const bonus = async () => {
      const wallets = await request(h!.pod(0), 'GET', '/v1/accounts/@bonus/wallets', undefined, { token: h!.admin });
      expect(wallets.status, wallets.text).toBe(200);
      return BigInt(/"currency":"EUR","balance":(-?\d+),"held":0,"available":(-?\d+)/.exec(wallets.text)![1]!);
    };
    const before = await bonus();
    const shard = await sql.query("SELECT shard FROM system_balance_shards WHERE account_id = '@bonus' AND currency = 'EUR' LIMIT 1");
    const past_2_53 = 2n ** 54n + 1n;
    const move = (sign: string) =>
      sql.query(
        `UPDATE system_balance_shards SET balance_minor = balance_minor ${sign} $1
         WHERE account_id = '@bonus' AND currency = 'EUR' AND shard = $2`,
        [past_2_53.toString(), shard.rows[0].shard],
      );
    await move('+');
    try {
      expect(await bonus()).toBe(before + past_2_53);
      const report = await h!.reconcile();
      expect(report.mismatches).toHaveLength(1);
      const [mismatch] = report.mismatches as Array<Record<string, unknown>>;
      expect(mismatch).toMatchObject({ check: 'system_shard_balance', account_id: '@bonus', currency: 'EUR' });
      expect(BigInt(mismatch!['actual'] as string) - BigInt(mismatch!['expected'] as number)).toBe(past_2_53);
    } finally {
      await move('-');
    }
    await h!.expectReconcileClean();
  });

  it('when refunds add up past what their spend moved, then transaction_refunds is reported until restored', async () => {
    const id = await h!.openAccount(1_000);
    const options = { token: h!.service, key: key() };
    const debit = await request(h!.pod(0), 'POST', `/v1/accounts/${id}/debits`, { amount: 300, currency: 'EUR', reason: 'x' }, options);
    expect(debit.status).toBe(201);
    const refund = await request(h!.pod(1), 'POST', `/v1/transactions/${debit.body.id}/refunds`, {}, { token: h!.service, key: key() });
    expect(refund.status).toBe(201);
    await sql.query('UPDATE ledger_transactions SET amount_minor = 200 WHERE id = $1', [debit.body.id]);
    try {
      expect((await h!.reconcile()).mismatches).toEqual([
        { check: 'transaction_refunds', transaction_id: debit.body.id, expected: 'at most 200 given back', actual: '300 given back' },
      ]);
    } finally {
      await sql.query('UPDATE ledger_transactions SET amount_minor = 300 WHERE id = $1', [debit.body.id]);
    }
    await h!.expectReconcileClean();
  });

  it('when raw SQL tries to drain a wallet below zero, then the database itself refuses it and the ledger stays clean', async () => {
    const id = await h!.openAccount(100);
    const drained = sql.query("UPDATE wallets SET balance_minor = balance_minor - 150 WHERE account_id = $1 AND currency = 'EUR'", [id]);
    await expect(drained).rejects.toMatchObject({ code: '23514', constraint: 'wallets_no_overdraft' });
    expect(await h!.wallet(id)).toEqual({ currency: 'EUR', balance: 100, held: 0, available: 100 });
    await h!.expectReconcileClean();
  });
});
