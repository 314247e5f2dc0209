import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster } from '../support/cluster.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';
import { expectProblem } from '../support/shop.js';
import { walletHarness, type WalletHarness } from '../support/wallet.js';

// Balances in the past, statements, compliance exports and the large-transaction report (issue 11),
// on a database of their own: exports and reports cover every account in a time range, and other
// test files' transactions in that range (committing late, between the test's SQL and its export)
// made them differ from what the test expected.
let h: WalletHarness;
let database: ScratchDatabase;

beforeAll(async () => {
  database = await createScratchDatabase(inject('database_url'), 'statements');
  // Small export pages, so that an export of a few dozen transactions spans several.
  h = await walletHarness(await startCluster({ env: { DATABASE_URL: database.url, EXPORT_PAGE_ROWS: '10' } }), {
    database_url: database.url,
  });
});
afterAll(async () => {
  await h?.stop();
  await database?.drop();
});

const at = (ms: number) => new Date(ms).toISOString();
const shifted = (iso: string, ms: number) => at(Date.parse(iso) + ms);

async function move(id: string, kind: 'credits' | 'debits', amount: number) {
  const response = await h.post(`/v1/accounts/${id}/${kind}`, { amount, currency: 'EUR', reason: kind }, h.service);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  await sleep(15);
  return response.body as { id: string; created_at: string };
}

async function walletsAt(id: string, as_of: string, token = h.service) {
  return h.get(`/v1/accounts/${id}/wallets?as_of=${encodeURIComponent(as_of)}`, token);
}

describe('balances in the past', () => {
  it('when asked as of an instant before, between and after known entries, then each wallet is as it was then', async () => {
    const id = await h.openAccount(0);
    const opened = (await h.get(`/v1/accounts/${id}`, h.service)).body.created_at as string;
    await sleep(15);
    const credit = await move(id, 'credits', 1_000);
    const debit = await move(id, 'debits', 300);
    const hold = await h.post('/v1/holds', { account_id: id, amount: 200, currency: 'EUR', expires_in_seconds: 60 }, h.service);
    await sleep(15);
    const voided = await h.post(`/v1/holds/${hold.body.id}/void`, {}, h.service);
    await sleep(15);
    const last = await move(id, 'credits', 50);

    const expectations: Array<[string, { balance: number; held: number }]> = [
      [shifted(credit.created_at, -1), { balance: 0, held: 0 }],
      [credit.created_at, { balance: 1_000, held: 0 }],
      [shifted(credit.created_at, 5), { balance: 1_000, held: 0 }],
      [debit.created_at, { balance: 700, held: 0 }],
      [shifted(hold.body.created_at, 1), { balance: 700, held: 200 }],
      [voided.body.updated_at, { balance: 700, held: 0 }],
      [shifted(last.created_at, -1), { balance: 700, held: 0 }],
      [shifted(last.created_at, 1), { balance: 750, held: 0 }],
      [at(Date.now()), { balance: 750, held: 0 }],
    ];
    for (const [as_of, wallet] of expectations) {
      const response = await walletsAt(id, as_of, await h.mint.player(id));
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect({ as_of, data: response.body.data }).toEqual({
        as_of,
        data: [{ currency: 'EUR', balance: wallet.balance, held: wallet.held, available: wallet.balance - wallet.held }],
      });
    }
    // Before the account existed it had no wallet.
    expect((await walletsAt(id, shifted(opened, -1_000))).body.data).toEqual([]);
  });

  it('when as_of is malformed, in the future, for a system account or someone else’s, then refused', async () => {
    const id = await h.openAccount(100);
    for (const as_of of ['yesterday', '2026-01-01', '2026-01-01T00:00:00', '2026-13-01T00:00:00Z', '', at(Date.now() + 60_000)]) {
      expectProblem(await walletsAt(id, as_of), 400, 'validation_error');
    }
    expectProblem(await walletsAt('@revenue', at(Date.now())), 400, 'validation_error');
    // Nor a history: its entries have no history number, and the list answered empty.
    expectProblem(await h.get('/v1/accounts/@revenue/transactions', h.admin), 400, 'validation_error');
    expectProblem(await walletsAt(id, at(Date.now()), await h.mint.player('someone-else')), 404, 'not_found');
    expectProblem(await walletsAt(id, at(Date.now()), await h.mint.service('accounts:write', 'x')), 403, 'forbidden');
    expectProblem(await walletsAt('no-such-account', at(Date.now())), 404, 'not_found');
  });
});

describe('statements', () => {
  it('when a range is stated, then opening + entries = closing, and the totals are the sum of its entries, page after page', async () => {
    const id = await h.openAccount(0);
    const before = await move(id, 'credits', 5_000);
    const from = at(Date.now());
    await sleep(15);
    const moves = [
      await move(id, 'debits', 700),
      await move(id, 'credits', 250),
      await move(id, 'debits', 1_100),
      await move(id, 'debits', 40),
      await move(id, 'credits', 1),
    ];
    const to = at(Date.now());
    await sleep(15);

    // Writes go on while the statement of the closed range is paged.
    const writes = Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        h.post(`/v1/accounts/${id}/debits`, { amount: 1, currency: 'EUR', reason: 'later' }, h.service, { pod: i }),
      ),
    );
    const entries: Array<{ amount: number; balance_after: number; transaction_id: string }> = [];
    let page: any;
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ currency: 'EUR', from, to, limit: '2', ...(cursor ? { cursor } : {}) });
      page = (await h.get(`/v1/accounts/${id}/statement?${query}`, await h.mint.player(id))).body;
      expect(page).toMatchObject({ opening_balance: 5_000, closing_balance: 3_411, totals: { credits: 251, debits: -1_840, entries: 5 } });
      entries.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    await writes;
    expect(entries.map((entry) => entry.transaction_id)).toEqual(moves.map((moved) => moved.id));
    expect(entries.reduce((sum, entry) => sum + entry.amount, 0)).toBe(page.totals.credits + page.totals.debits);
    expect(page.opening_balance + page.totals.credits + page.totals.debits).toBe(page.closing_balance);
    expect(entries.at(-1)!.balance_after).toBe(page.closing_balance);
    expect(before.id).not.toBe(entries[0]!.transaction_id);
  });

  it('when a statement is malformed or too long, then 400', async () => {
    const id = await h.openAccount(0);
    const now = Date.now();
    for (const query of [
      { from: at(now - 1000), to: at(now) },
      { currency: 'EUR', to: at(now) },
      { currency: 'EUR', from: at(now), to: at(now - 1000) },
      { currency: 'EUR', from: at(now - 400 * 86_400_000), to: at(now) },
      { currency: 'EUR', from: at(now + 60_000), to: at(now + 120_000) },
      { currency: 'XXX', from: at(now - 1000), to: at(now) },
      { currency: 'EUR', from: 'then', to: at(now) },
      { currency: 'EUR', from: at(now - 1000), to: at(now), cursor: 'nope' },
    ]) {
      const response = await h.get(`/v1/accounts/${id}/statement?${new URLSearchParams(query as Record<string, string>)}`, h.service);
      expectProblem(response, 400, 'validation_error');
    }
  });
});

describe('compliance exports', () => {
  it('when a range is exported as CSV or JSON lines, then it streams exactly the ledger rows of that range', async () => {
    const id = await h.openAccount(0);
    const from = at(Date.now());
    await sleep(5);
    for (let i = 0; i < 12; i += 1) await move(id, 'credits', 1_234 + i);
    const csv_tricky = await h.post(
      `/v1/accounts/${id}/debits`,
      { amount: 34, currency: 'EUR', reason: 'a "quoted", multi\nline reason', metadata: { note: 'x,y' } },
      h.service,
    );
    expect(csv_tricky.status).toBe(201);
    const formula = await h.post(
      `/v1/accounts/${id}/debits`,
      { amount: 1, currency: 'EUR', reason: '=HYPERLINK("http://evil.example","open me")' },
      h.service,
    );
    expect(formula.status).toBe(201);
    // A game's player id a spreadsheet would compute (-2-3 is -5).
    const minus = `-2-${Date.now()}`;
    expect((await h.post('/v1/accounts', { id: minus, currency: 'EUR' }, h.service)).status).toBe(201);
    await move(minus, 'credits', 7);
    await sleep(5);
    const to = at(Date.now());
    await sleep(1_000); // every batch that began before `to` has committed

    const expected = await h.sql.query<{ transaction_id: string; account_id: string; amount: string }>(
      `SELECT e.transaction_id, e.account_id, e.amount_minor::text AS amount FROM ledger_entries e
       JOIN ledger_transactions t ON t.id = e.transaction_id WHERE t.created_at >= $1 AND t.created_at < $2
       ORDER BY t.created_at, t.id, e.amount_minor, e.account_id`,
      [from, to],
    );
    const query = (format: string) => `/v1/admin/exports/transactions?${new URLSearchParams({ from, to, format })}`;

    const jsonl = await fetch(`${h.urls[1]}${query('jsonl')}`, { headers: { Authorization: `Bearer ${h.admin}` } });
    expect(jsonl.status).toBe(200);
    expect(jsonl.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await jsonl.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.transaction_id, line.account_id, String(line.amount)])).toEqual(
      expected.rows.map((row) => [row.transaction_id, row.account_id, row.amount]),
    );
    expect(new Set(lines.map((line) => line.transaction_id)).size).toBeGreaterThanOrEqual(13);
    expect(lines).toContainEqual(
      expect.objectContaining({ transaction_id: csv_tricky.body.id, account_id: id, amount: -34, metadata: { note: 'x,y' } }),
    );

    const csv = await fetch(`${h.urls[2]}${query('csv')}`, { headers: { Authorization: `Bearer ${h.admin}` } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const text = await csv.text();
    const records = parseCsv(text);
    expect(records[0]!.slice(0, 8)).toEqual([
      'transaction_id',
      'created_at',
      'type',
      'transaction_account_id',
      'account_id',
      'currency',
      'amount',
      'balance_after',
    ]);
    // Account ids that start like a formula start with a quote, system accounts (`@revenue`) too.
    expect(records.slice(1).map((record) => [record[0], record[4], record[6]])).toEqual(
      expected.rows.map((row) => [row.transaction_id, /^[=+\-@]/.test(row.account_id) ? `'${row.account_id}` : row.account_id, row.amount]),
    );
    expect(records.some((record) => record[4] === `'${minus}`)).toBe(true);
    const reason_column = records[0]!.indexOf('reason');
    expect(records.find((record) => record[0] === csv_tricky.body.id && record[4] === id)![reason_column]).toBe(
      'a "quoted", multi\nline reason',
    );
    // A spreadsheet does not run it: the cell starts with a quote (JSON lines keep the text as it is).
    expect(records.find((record) => record[0] === formula.body.id && record[4] === id)![reason_column]).toBe(
      `'=HYPERLINK("http://evil.example","open me")`,
    );
    expect(lines.find((line) => line.transaction_id === formula.body.id).references.reason).toBe(
      '=HYPERLINK("http://evil.example","open me")',
    );
  });

  it('when an export is asked by a non-admin, malformed or too long, then it is refused before anything streams', async () => {
    const now = Date.now();
    const url = (query: Record<string, string>) => `/v1/admin/exports/transactions?${new URLSearchParams(query)}`;
    expectProblem(await h.get(url({ from: at(now - 1000), to: at(now) }), h.service), 403, 'forbidden');
    const queries: Array<Record<string, string>> = [
      { from: at(now - 1000), to: at(now), format: 'xml' },
      { from: at(now - 40 * 86_400_000), to: at(now) },
      { from: at(now), to: at(now - 1000) },
      { to: at(now) },
      { from: at(now - 1000), to: at(now), extra: '1' },
    ];
    for (const query of queries) {
      expectProblem(await h.get(url(query), h.admin), 400, 'validation_error');
    }
  });
});

describe('the large-transaction report', () => {
  it('when asked for a currency and threshold, then the transactions at or above it in the range, newest first, paged', async () => {
    const id = await h.openAccount(0);
    const from = at(Date.now());
    await sleep(5);
    const big = [await move(id, 'credits', 900_000), await move(id, 'credits', 950_000)];
    await move(id, 'credits', 10);
    const to = at(Date.now() + 1);
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ from, to, currency: 'EUR', threshold: '900000', limit: '1', ...(cursor ? { cursor } : {}) });
      const page = await h.get(`/v1/admin/reports/large-transactions?${query}`, h.admin);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      seen.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen.every((transaction) => transaction.amount >= 900_000 && transaction.currency === 'EUR')).toBe(true);
    const ours = seen.filter((transaction) => transaction.account_id === id).map((transaction) => transaction.id);
    expect(ours).toEqual([big[1]!.id, big[0]!.id]);
    const times = seen.map((transaction) => Date.parse(transaction.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expectProblem(
      await h.get(`/v1/admin/reports/large-transactions?${new URLSearchParams({ from, to, currency: 'EUR', threshold: '0' })}`, h.admin),
      400,
      'validation_error',
    );
    expectProblem(
      await h.get(`/v1/admin/reports/large-transactions?${new URLSearchParams({ from, to, currency: 'EUR', threshold: '1' })}`, h.service),
      403,
      'forbidden',
    );
  });

  it('when an order grants a currency pack, then its grant legs are exported and reported in their own currency', async () => {
    const id = await h.openAccount(5_000);
    const from = at(Date.now());
    await sleep(5);
    const order = await h.post('/v1/orders', { account_id: id, lines: [{ item_id: 'pack-gems-500', quantity: 1 }] }, h.service);
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    const to = at(Date.now() + 1);
    await sleep(1_000); // every batch that began before `to` has committed
    const exported = await fetch(`${h.urls[0]}/v1/admin/exports/transactions?${new URLSearchParams({ from, to, format: 'jsonl' })}`, {
      headers: { Authorization: `Bearer ${h.admin}` },
    });
    const ours = (await exported.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((line) => line.account_id === id);
    // Once every leg carried the transaction's currency: the 500 GEMS granted came out as 500 EUR.
    expect(ours.map((line) => [line.currency, line.amount, line.balance_after])).toEqual([
      ['EUR', -499, 4_501],
      ['GEMS', 500, 500],
    ]);
    const report = await h.get(
      `/v1/admin/reports/large-transactions?${new URLSearchParams({ from, to, currency: 'GEMS', threshold: '500' })}`,
      h.admin,
    );
    expect(report.body.data.map((transaction: { id: string }) => transaction.id)).toEqual([ours[0].transaction_id]);
  });
});

/** RFC 4180 records (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\r') continue;
    else if (char === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += char;
  }
  return records;
}
