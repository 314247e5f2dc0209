import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeQuoteCache } from '../../src/sellers/quotes/quote-cache.js';
import { startCluster, uniqueId, type TestCluster } from '../support/cluster.js';

// The purge of the aggregator's shared state, on the real database of a real pod.

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster({ workers: false });
});
afterAll(() => cluster?.stop());

describe('the seller state purge', () => {
  it('when fan-outs are done or abandoned long ago, then they go; a running or recent one stays', async () => {
    const { deps } = cluster.pods[0]!;
    const product = (what: string) => uniqueId(`purge-${what}`);
    const done = product('done');
    const abandoned = product('abandoned');
    const running = product('running');
    const recent = product('recent');
    const old = `now() - CAST('${deps.config.sellers.state_retention_ms * 2} milliseconds' AS INTERVAL)`;
    await deps.transactions.read(async (tx) => {
      const insert = (id: string, started: string, completed: string, lease: string) =>
        tx.execute(
          `INSERT INTO quote_fanouts (crdb_region, product_id, lease_token, lease_expires_at, started_at, completed_at)
           VALUES (?, ?, 't', ${lease}, ${started}, ${completed})`,
          [deps.region, id],
        );
      await insert(done, old, old, 'NULL');
      // No seller answered: it never completes. Kept for good before.
      await insert(abandoned, old, 'NULL', old);
      await insert(running, old, 'NULL', "now() + INTERVAL '1 minute'");
      await insert(recent, 'now()', 'NULL', 'NULL');
    });
    await purgeQuoteCache(deps, 1000);
    const left = await deps.transactions.read((tx) =>
      tx.rows<{ product_id: string }>('SELECT product_id FROM quote_fanouts WHERE product_id = ANY(?::text[]) ORDER BY product_id', [
        [done, abandoned, running, recent],
      ]),
    );
    expect(left.map((row) => row.product_id).sort()).toEqual([running, recent].sort());
  });
});
