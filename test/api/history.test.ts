import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, type ApiResponse } from '../support/cluster.js';
import { key, ledgerHarness, tally, type LedgerHarness } from '../support/ledger.js';

let h: LedgerHarness;

beforeAll(async () => {
  h = await ledgerHarness(await startCluster());
});
afterAll(() => h?.cluster.stop());

const page = (account_id: string, query: Record<string, string>, base = h.pod(0)) =>
  request(base, 'GET', `/v1/accounts/${account_id}/transactions?${new URLSearchParams(query)}`, undefined, { token: h.service });

/** Newest first: each item's balance is the older neighbour's balance plus its own amount. */
function expectContiguous(items: Array<{ amount: number; balance_after: number }>) {
  for (let i = 0; i + 1 < items.length; i += 1) expect(items[i]!.balance_after).toBe(items[i + 1]!.balance_after + items[i]!.amount);
}

describe('paging through history while it grows', () => {
  it('when 20 writes land while paging 25 entries by 7, no entry repeats, every older one is seen and pages are contiguous', async () => {
    const id = await h.openAccount(1_000, { home_region: 'ap-south' });
    for (let i = 1; i <= 24; i += 1) {
      const credit = await request(
        h.pod(i),
        'POST',
        `/v1/accounts/${id}/credits`,
        { amount: i, currency: 'EUR', reason: `c${i}` },
        { token: h.service, key: key() },
      );
      expect(credit.status).toBe(201);
    }
    const existing = await h.history(id);
    expect(existing).toHaveLength(25);

    // 20 more writes (credits and debits, every pod) start now and keep landing during the walk.
    let completed = 0;
    const writes = Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const path = i % 2 === 0 ? `/v1/accounts/${id}/credits` : `/v1/accounts/${id}/debits`;
        const response = await request(
          h.pod(i),
          'POST',
          path,
          { amount: 100 + i, currency: 'EUR', reason: `w${i}` },
          { token: h.service, key: key() },
        );
        completed += 1;
        return response;
      }),
    );

    const pages: any[][] = [];
    const completed_before_page: number[] = [];
    let cursor: string | null | undefined;
    do {
      if (cursor) {
        // Let at least one more write commit between two pages (until all of them have).
        const seen = completed;
        while (completed === seen && completed < 20) await sleep(2);
      }
      completed_before_page.push(completed);
      const response: ApiResponse = await page(id, { limit: '7', ...(cursor ? { cursor } : {}) }, h.pod(pages.length));
      expect(response.status).toBe(200);
      pages.push(response.body.data);
      cursor = response.body.next_cursor;
    } while (cursor);
    const responses: ApiResponse[] = await writes;
    expect(tally(responses)).toEqual({ '201': 20 });

    const walked = pages.flat();
    const walked_ids = walked.map((item) => item.id);
    expect(new Set(walked_ids).size).toBe(walked_ids.length);
    expect(walked_ids).toEqual(expect.arrayContaining(existing.map((item) => item.id)));
    expect(pages.slice(0, -1).every((data) => data.length === 7)).toBe(true);
    expect(pages.at(-1)!.length).toBeGreaterThanOrEqual(1);
    expect(pages.at(-1)!.length).toBeLessThanOrEqual(7);
    expectContiguous(walked);
    expect(walked.at(-1)).toMatchObject({ type: 'credit', amount: 1_000, balance_after: 1_000 });
    // The walk really overlapped the writes.
    expect(completed_before_page[1]! - completed_before_page[0]!).toBeGreaterThanOrEqual(1);
    expect(completed_before_page[0]!).toBeLessThan(20);

    // Afterwards: 45 distinct entries; the walk plus what came later covers all of them.
    const final = await h.history(id);
    expect(final).toHaveLength(45);
    const final_ids = new Set(final.map((item) => item.id));
    expect(walked_ids.every((walked_id) => final_ids.has(walked_id))).toBe(true);
    const newer = final.slice(
      0,
      final.findIndex((item) => item.id === walked_ids[0]),
    );
    expect(new Set([...newer.map((item) => item.id), ...walked_ids])).toEqual(final_ids);
    expectContiguous(final);
    expect(final[0]!.balance_after).toBe((await h.wallet(id)).balance);
    await h.expectReconcileClean();
  });

  it('when 45 entries are walked with limit=7 at rest, then the pages hold 7, 7, 7, 7, 7, 7, 3 and the last cursor is null', async () => {
    const id = await h.openAccount(10_000);
    await Promise.all(
      Array.from({ length: 44 }, (_, i) =>
        request(
          h.pod(i),
          'POST',
          `/v1/accounts/${id}/debits`,
          { amount: 1 + i, currency: 'EUR', reason: `d${i}` },
          { token: h.service, key: key() },
        ),
      ),
    );
    const sizes: number[] = [];
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const response: ApiResponse = await page(id, { limit: '7', ...(cursor ? { cursor } : {}) });
      sizes.push(response.body.data.length);
      ids.push(...response.body.data.map((item: { id: string }) => item.id));
      cursor = response.body.next_cursor;
    } while (cursor);
    expect(sizes).toEqual([7, 7, 7, 7, 7, 7, 3]);
    expect(new Set(ids).size).toBe(45);
    // The default page is 50: everything on one page.
    const all = await page(id, {});
    expect(all.body.data).toHaveLength(45);
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.data.map((item: { id: string }) => item.id)).toEqual(ids);
    expect(all.body.data.at(-1)).toMatchObject({ type: 'credit', amount: 10_000 });
    expect(all.body.data[0].balance_after).toBe(10_000 - (44 * 45) / 2);
  });
});

describe('what history shows', () => {
  it('when an account is credited, debited, refunded and transfers both ways, each shows signed amount, balance, references', async () => {
    const id = await h.openAccount(1_000, { home_region: 'eu-west' });
    const peer = await h.openAccount(500, { home_region: 'us-east' });
    const debit = await request(
      h.pod(1),
      'POST',
      `/v1/accounts/${id}/debits`,
      { amount: 300, currency: 'EUR', reason: 'sword', reference: 'item-9' },
      { token: h.service, key: key() },
    );
    const refund = await request(
      h.pod(2),
      'POST',
      `/v1/transactions/${debit.body.id}/refunds`,
      { amount: 100, reason: 'dented' },
      { token: h.service, key: key() },
    );
    const sent = await request(
      h.pod(0),
      'POST',
      '/v1/transfers',
      { from_account_id: id, to_account_id: peer, amount: 50, currency: 'EUR', note: 'gg' },
      { token: await h.mint.player(id), key: key() },
    );
    const received = await request(
      h.pod(1),
      'POST',
      '/v1/transfers',
      { from_account_id: peer, to_account_id: id, amount: 20, currency: 'EUR' },
      { token: await h.mint.player(peer), key: key() },
    );
    expect([debit.status, refund.status, sent.status, received.status]).toEqual([201, 201, 201, 201]);

    const history = await h.history(id);
    expect(history.map((item) => [item.type, item.amount, item.balance_after])).toEqual([
      ['transfer', 20, 770],
      ['transfer', -50, 750],
      ['refund', 100, 800],
      ['debit', -300, 700],
      ['credit', 1_000, 1_000],
    ]);
    expect(history[2]).toMatchObject({
      transaction_id: refund.body.id,
      reason: 'dented',
      reference: 'item-9',
      references: { original_transaction_id: debit.body.id },
    });
    expect(history[3]).toMatchObject({ transaction_id: debit.body.id, reason: 'sword', reference: 'item-9', currency: 'EUR' });
    expect(Number.isNaN(Date.parse(history[0]!.created_at))).toBe(false);
    expect((await h.history(peer)).map((item) => [item.type, item.amount, item.balance_after])).toEqual([
      ['transfer', -20, 530],
      ['transfer', 50, 550],
      ['credit', 500, 500],
    ]);
    // A player reads their own history.
    const own = await request(h.pod(2), 'GET', `/v1/accounts/${id}/transactions?limit=2`, undefined, { token: await h.mint.player(id) });
    expect(own.status).toBe(200);
    expect(own.body.data.map((item: { transaction_id: string }) => item.transaction_id)).toEqual([
      received.body.transaction_id,
      sent.body.transaction_id,
    ]);
  });

  it("when history is filtered by currency, then only that wallet's entries come back", async () => {
    const id = await h.openAccount(1_000);
    expect(
      (
        await request(
          h.pod(0),
          'POST',
          `/v1/accounts/${id}/credits`,
          { amount: 70, currency: 'GEMS', reason: 'bonus' },
          { token: h.service, key: key() },
        )
      ).status,
    ).toBe(201);
    const gems = await page(id, { currency: 'GEMS' });
    expect(gems.body.data.map((item: any) => [item.currency, item.amount, item.balance_after])).toEqual([['GEMS', 70, 70]]);
    const eur = await page(id, { currency: 'EUR' });
    expect(eur.body.data.map((item: any) => [item.currency, item.amount])).toEqual([['EUR', 1_000]]);
    expect((await page(id, {})).body.data).toHaveLength(2);
  });

  it('when the page size or cursor is invalid, then 400 validation_error; an unknown account is 404', async () => {
    const id = await h.openAccount(10);
    for (const query of <Array<Record<string, string>>>[
      { limit: '0' },
      { limit: '201' },
      { limit: 'ten' },
      { cursor: 'not a cursor!' },
      { cursor: 'eHl6' },
      { currency: 'XYZ' },
      { sort: 'asc' },
    ]) {
      const response = await page(id, query);
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(response.body.code).toBe('validation_error');
    }
    expect((await page(id, { limit: '200' })).status).toBe(200);
    const unknown = await page('no-such-account-here', {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('not_found');
  });
});
