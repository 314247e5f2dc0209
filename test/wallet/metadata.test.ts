import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { METADATA_CONTAINS } from '../../src/ledger/ledger-queries.js';
import { startCluster, uniqueId } from '../support/cluster.js';
import { key } from '../support/ledger.js';
import { expectProblem } from '../support/shop.js';
import { walletHarness, type WalletHarness } from '../support/wallet.js';

// Metadata on money objects (issue 11): validated at the edge by one schema, stored with the
// object, part of the idempotency fingerprint, returned by every view, and a history filter.
let h: WalletHarness;
let item_id: string;
let merchant_id: string;

beforeAll(async () => {
  h = await walletHarness(await startCluster());
  item_id = uniqueId('item');
  const catalog = await h.mint.service('catalog:write', 'back-office');
  const item = { name: 'Tagged', kind: 'skin', price: 100, currency: 'EUR', active: true, refundable: true };
  expect((await h.put(`/v1/items/${item_id}`, item, catalog)).status).toBe(201);
  merchant_id = uniqueId('m');
  expect((await h.post('/v1/accounts', { id: merchant_id, currency: 'EUR', kind: 'merchant', fee_bps: 0 }, h.service)).status).toBe(201);
});
afterAll(() => h?.stop());

/** Every endpoint that takes metadata, as [name, path, body without metadata, the GET path of what it made]. */
function endpoints(id: string, other: string): Array<[string, string, Record<string, unknown>, (body: any) => string]> {
  return [
    ['credit', `/v1/accounts/${id}/credits`, { amount: 100, currency: 'EUR', reason: 'x' }, (body) => `/v1/transactions/${body.id}`],
    ['debit', `/v1/accounts/${id}/debits`, { amount: 10, currency: 'EUR', reason: 'x' }, (body) => `/v1/transactions/${body.id}`],
    [
      'transfer',
      '/v1/transfers',
      { from_account_id: id, to_account_id: other, amount: 10, currency: 'EUR' },
      (body) => `/v1/transfers/${body.id}`,
    ],
    ['hold', '/v1/holds', { account_id: id, amount: 10, currency: 'EUR', expires_in_seconds: 60 }, (body) => `/v1/holds/${body.id}`],
    ['order', '/v1/orders', { account_id: id, lines: [{ item_id, quantity: 1 }] }, (body) => `/v1/orders/${body.id}`],
    ['top-up', '/v1/topups', { account_id: id, amount: 100, currency: 'EUR' }, (body) => `/v1/topups/${body.id}`],
    [
      'merchant payment',
      '/v1/merchant-payments',
      { from_account_id: id, merchant_id, amount: 10, currency: 'EUR' },
      (body) => `/v1/merchant-payments/${body.id}`,
    ],
  ];
}

describe('metadata on money objects', () => {
  it('when an object is created with metadata, then its view and every later read return it as sent', async () => {
    const id = await h.openAccount(10_000);
    const other = await h.openAccount(0);
    for (const [what, path, body, read] of endpoints(id, other)) {
      // 500 characters (SPEC §10) of four UTF-8 bytes and two UTF-16 units each.
      const metadata = { campaign: `spring-${what}`, 'order.ref_1': 'A-17', empty: '', wide: '😀'.repeat(500) };
      const created = await h.post(path, { ...body, metadata }, h.service);
      expect(created.status, `${what}: ${JSON.stringify(created.body)}`).toBe(201);
      expect(created.body.metadata, what).toEqual(metadata);
      expect((await h.get(read(created.body), h.service)).body.metadata, what).toEqual(metadata);
      const without = await h.post(path, body, h.service);
      expect(without.body.metadata, what).toEqual({});
    }
    await h.expectReconcileClean();
  });

  it('when the same key is sent with other metadata, then 422 idempotency_key_reused: metadata is part of the request', async () => {
    const id = await h.openAccount(1_000);
    const k = key();
    const body = { amount: 10, currency: 'EUR', reason: 'x', metadata: { a: '1' } };
    expect((await h.post(`/v1/accounts/${id}/debits`, body, h.service, { key: k })).status).toBe(201);
    const replay = await h.post(`/v1/accounts/${id}/debits`, body, h.service, { key: k });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expectProblem(
      await h.post(`/v1/accounts/${id}/debits`, { ...body, metadata: { a: '2' } }, h.service, { key: k }),
      422,
      'idempotency_key_reused',
    );
    expect(await h.wallet(id)).toMatchObject({ balance: 990 });
  });

  it('when metadata breaks a rule, then every endpoint answers 400 problem+json and nothing is made', async () => {
    const id = await h.openAccount(10_000);
    const other = await h.openAccount(0);
    const bad: unknown[] = [
      Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])),
      { ['k'.repeat(41)]: 'v' },
      { 'bad key': 'v' },
      { ключ: 'v' },
      { k: 'v'.repeat(501) },
      { k: '😀'.repeat(501) },
      { k: 5 },
      { k: null },
      { k: { nested: 'v' } },
      ['v'],
      'v',
    ];
    for (const [what, path, body] of endpoints(id, other)) {
      for (const metadata of bad) {
        const response = await h.post(path, { ...body, metadata }, h.service);
        expect({ what, status: response.status, code: response.body?.code }).toEqual({ what, status: 400, code: 'validation_error' });
      }
    }
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 10_000, held: 0, available: 10_000 });
    expect((await h.history(id)).length).toBe(1);
  });
});

describe('history filtered by metadata', () => {
  it('when transactions carry no metadata, the inverted index skips them, and the history filter can still use it', async () => {
    const client = new pg.Client({ connectionString: inject('database_url') });
    await client.connect();
    try {
      const predicate = await client.query(
        "SELECT pg_get_expr(indpred, indrelid) AS predicate FROM pg_index WHERE indexrelid = 'ledger_transactions_metadata'::regclass",
      );
      expect(predicate.rows[0].predicate).toBe("(metadata <> '{}'::jsonb)");
      // With sequential scans ruled out, a filter that did not imply the predicate could only read the whole primary key.
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const filter = METADATA_CONTAINS.replace('?', `'{"campaign":"summer"}'`);
      const plan = await client.query(`EXPLAIN SELECT t.id FROM ledger_transactions t WHERE ${filter}`);
      expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('Bitmap Index Scan on ledger_transactions_metadata');
    } finally {
      await client.query('ROLLBACK');
      await client.end();
    }
  });

  it('when history is asked with metadata[key]=value, then only entries whose transaction carries it, paged without skips', async () => {
    const id = await h.openAccount(10_000);
    const tagged: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      const metadata = i % 2 === 0 ? { campaign: 'summer', n: String(i) } : { campaign: 'winter' };
      const debit = await h.post(`/v1/accounts/${id}/debits`, { amount: 10, currency: 'EUR', reason: 'x', metadata }, h.service);
      if (i % 2 === 0) tagged.push(debit.body.id);
    }
    // The refund of a tagged spend carries its metadata too.
    const refund = await h.post(`/v1/transactions/${tagged[0]}/refunds`, { amount: 5 }, h.service);
    expect(refund.body.metadata).toMatchObject({ campaign: 'summer' });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ 'metadata[campaign]': 'summer', limit: '2', ...(cursor ? { cursor } : {}) });
      const page = await h.get(`/v1/accounts/${id}/transactions?${query}`, await h.mint.player(id));
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      seen.push(...page.body.data.map((item: { transaction_id: string }) => item.transaction_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([refund.body.id, ...[...tagged].reverse()]);

    const by_n = await h.get(`/v1/accounts/${id}/transactions?metadata%5Bn%5D=4`, h.service);
    expect(by_n.body.data.map((item: { transaction_id: string }) => item.transaction_id)).toEqual([tagged[2]]);
    expect((await h.get(`/v1/accounts/${id}/transactions?metadata%5Bcampaign%5D=autumn`, h.service)).body.data).toEqual([]);

    for (const query of [
      'metadata%5Ba%5D=1&metadata%5Bb%5D=2',
      'metadata%5Ba%5D=1&metadata%5Ba%5D=2',
      `metadata%5B${'k'.repeat(41)}%5D=1`,
      'metadata%5Bbad%20key%5D=1',
      `metadata%5Ba%5D=${'v'.repeat(501)}`,
      'metadata=1',
      'metadata%5B%5D=1',
    ]) {
      expectProblem(await h.get(`/v1/accounts/${id}/transactions?${query}`, h.service), 400, 'validation_error');
    }
  });
});
