import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../support/cluster.js';
import { walletHarness, type WalletHarness } from '../support/wallet.js';

// An export streams one snapshot, and waits while its client has not taken what it wrote: that wait
// is the client's pace, not a transaction stalled by a fault. It was cut by the database's
// idle-in-transaction timeout (DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, 30 s by default), and a client
// reading slowly got a 200 with the first pages only. Here the timeout is 1 s and the client pauses 3 s.
const IDLE_TIMEOUT_MS = 1000;
const CREDITS = 300;

let h: WalletHarness;

beforeAll(async () => {
  h = await walletHarness(
    await startCluster({ env: { DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: String(IDLE_TIMEOUT_MS), EXPORT_PAGE_ROWS: '20' } }),
  );
});
afterAll(() => h?.stop());

/** The whole body, read with a pause after the first chunk; `complete`: the response ended, not cut. */
function readSlowly(url: string, token: string, pause_ms: number): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { Authorization: `Bearer ${token}` } }, (response) => {
      const chunks: Buffer[] = [];
      let paused = false;
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (paused) return;
        paused = true;
        response.pause();
        setTimeout(() => response.resume(), pause_ms);
      });
      const done = (complete: boolean) => resolve({ status: response.statusCode!, body: Buffer.concat(chunks).toString(), complete });
      response.once('end', () => done(response.complete));
      response.once('error', () => done(false));
      response.once('aborted', () => done(false));
    }).once('error', reject);
  });
}

describe('an export read slowly', () => {
  let id: string;
  let ids: string[];
  let query: URLSearchParams;

  beforeAll(async () => {
    id = await h.openAccount(0);
    // About 10 KB of metadata a transaction: 3 MB, more than the sockets between hold while the client pauses.
    const metadata = Object.fromEntries(Array.from({ length: 20 }, (_, key) => [`k${key}`, 'x'.repeat(500)]));
    const from = new Date().toISOString();
    ids = [];
    for (let start = 0; start < CREDITS; start += 20) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(20, CREDITS - start) }, () =>
          h.post(`/v1/accounts/${id}/credits`, { amount: 1, currency: 'EUR', reason: 'slow export', metadata }, h.service),
        ),
      );
      for (const answer of answers) {
        expect(answer.status, JSON.stringify(answer.body)).toBe(201);
        ids.push(answer.body.id as string);
      }
    }
    const to = new Date(Date.now() + 1).toISOString();
    await sleep(1000); // every batch that began before `to` has committed
    query = new URLSearchParams({ from, to, format: 'jsonl' });
  });

  it('when its client pauses longer than the idle-in-transaction timeout, then it still gets every line', async () => {
    const exported = await readSlowly(`${h.urls[0]}/v1/admin/exports/transactions?${query}`, h.admin, 3 * IDLE_TIMEOUT_MS);
    expect(exported.status).toBe(200);
    expect(exported.complete).toBe(true);
    const lines = exported.body
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { transaction_id: string; account_id: string });
    const ours = new Set(lines.filter((line) => line.account_id === id).map((line) => line.transaction_id));
    expect(ours.size).toBe(CREDITS);
    expect([...ours].sort()).toEqual([...ids].sort());
  });

  it('when it streams longer than EXPORT_DURATION_MAX_MS, then it is cut: the response ends unterminated', async () => {
    const short = await walletHarness(await startCluster({ env: { EXPORT_DURATION_MAX_MS: '1000', EXPORT_PAGE_ROWS: '20' } }));
    try {
      const exported = await readSlowly(`${short.urls[0]}/v1/admin/exports/transactions?${query}`, short.admin, 2000);
      expect(exported.status).toBe(200);
      expect(exported.complete).toBe(false);
    } finally {
      await short.stop();
    }
  });
});
