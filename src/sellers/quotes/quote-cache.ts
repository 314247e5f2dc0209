import { timestamp, type SqlTx } from '../../db/sql.js';
import type { AppDeps } from '../../platform/deps.js';
import { autocommit, rowPlaceholders } from '../guard/autocommit.js';
import type { SellerHistory } from './phase-plan.js';
import type { QuoteRecord } from './quote-record.js';

type Deps = Pick<AppDeps, 'transactions' | 'config'>;

/**
 * The fleet's shared record of the last fan-out for a product (quote_fanouts): who is running
 * one now (a lease), when the last one started and completed, and until when its quotes may be
 * reused (never past the earliest quote expiry minus a margin).
 */
export interface FanOutState {
  db_now_ms: number;
  /** The last completed fan-out may be reused. */
  fresh: boolean;
  started_at: string | null;
  completed_at_ms: number | null;
  /** Another caller is fanning out right now. */
  lease_live: boolean;
}

const UPSERT_ROWS_MAX = 1000;

export async function readFanOut(deps: Deps, product_id: string): Promise<FanOutState> {
  const row = await deps.transactions.read((tx) =>
    tx.one<{ db_now: string; started_at: string | null; completed_at: string | null; fresh: boolean | null; lease_live: boolean | null }>(
      `SELECT now() AS db_now, f.started_at, f.completed_at, f.fresh_until > now() AS fresh, f.lease_expires_at > now() AS lease_live
       FROM (SELECT 1 AS one) AS o LEFT JOIN quote_fanouts f ON f.product_id = ?`,
      [product_id],
    ),
  );
  return {
    db_now_ms: Date.parse(timestamp(row.db_now)),
    fresh: row.fresh === true,
    started_at: row.started_at,
    completed_at_ms: row.completed_at === null ? null : Date.parse(timestamp(row.completed_at)),
    lease_live: row.lease_live === true,
  };
}

/** Takes the fleet's fan-out lease for a product unless another caller holds it or fresh quotes exist. */
export async function claimFanOut(deps: Deps, region: string, product_id: string, token: string, lease_ms: number): Promise<boolean> {
  const rows = await autocommit(deps, (tx) =>
    tx.rows(
      `INSERT INTO quote_fanouts (crdb_region, product_id, lease_token, lease_expires_at, started_at)
       VALUES (?, ?, ?, now() + CAST(? AS INTERVAL), now())
       ON CONFLICT (product_id) DO UPDATE
         SET lease_token = excluded.lease_token, lease_expires_at = excluded.lease_expires_at,
             started_at = excluded.started_at, crdb_region = excluded.crdb_region
         WHERE (quote_fanouts.lease_expires_at IS NULL OR quote_fanouts.lease_expires_at < now())
           AND (quote_fanouts.fresh_until IS NULL OR quote_fanouts.fresh_until <= now())
       RETURNING product_id`,
      [region, product_id, token, `${lease_ms} milliseconds`],
    ),
  );
  return rows.length === 1;
}

/**
 * Publishes a fan-out's answers, then completes it. Readers use a fan-out's quotes only once
 * they see it completed, so writing the quotes first and the completion last is all the
 * atomicity needed: no transaction (the cache is not money, and a SERIALIZABLE one would only
 * collect conflicts with other products' publications). Only the lease holder can complete it.
 */
export async function publishFanOut(
  deps: Deps,
  input: { region: string; product_id: string; token: string; answers: readonly QuoteRecord[]; fresh_until_ms: number },
): Promise<void> {
  const { region, product_id, token, answers } = input;
  for (let start = 0; start < answers.length; start += UPSERT_ROWS_MAX) {
    await autocommit(deps, (tx) => upsertQuotes(tx, region, product_id, answers.slice(start, start + UPSERT_ROWS_MAX)));
  }
  await autocommit(deps, (tx) =>
    tx.execute(
      `UPDATE quote_fanouts SET completed_at = now(), fresh_until = CAST(? AS TIMESTAMPTZ), lease_token = NULL, lease_expires_at = NULL
       WHERE product_id = ? AND lease_token = ?`,
      [new Date(input.fresh_until_ms).toISOString(), product_id, token],
    ),
  );
}

/** Gives the lease back without publishing (the fan-out failed): a waiting caller may fan out at once. */
export async function abandonFanOut(deps: Deps, product_id: string, token: string): Promise<void> {
  await autocommit(deps, (tx) =>
    tx.execute('UPDATE quote_fanouts SET lease_token = NULL, lease_expires_at = NULL WHERE product_id = ? AND lease_token = ?', [
      product_id,
      token,
    ]),
  );
}

/** When the last completed fan-out of a product started (its quotes may have expired since). */
export async function lastCompletedFanOut(deps: Deps, product_id: string): Promise<string | undefined> {
  const row = await deps.transactions.read((tx) =>
    tx.maybeOne<{ started_at: string }>('SELECT started_at FROM quote_fanouts WHERE product_id = ? AND completed_at IS NOT NULL', [
      product_id,
    ]),
  );
  return row?.started_at;
}

async function upsertQuotes(tx: SqlTx, region: string, product_id: string, answers: readonly QuoteRecord[]): Promise<void> {
  if (answers.length === 0) return;
  await tx.execute(
    `INSERT INTO seller_quotes (crdb_region, product_id, seller_id, available, price_minor, currency, quote_id, expires_at, latency_ms)
     VALUES ${rowPlaceholders(answers.length, 9)}
     ON CONFLICT (product_id, seller_id) DO UPDATE SET crdb_region = excluded.crdb_region, available = excluded.available,
       price_minor = excluded.price_minor, currency = excluded.currency, quote_id = excluded.quote_id,
       expires_at = excluded.expires_at, latency_ms = excluded.latency_ms, fetched_at = now()`,
    answers.flatMap((answer) => [
      region,
      product_id,
      answer.seller_id,
      answer.available,
      answer.price,
      answer.currency,
      answer.quote_id,
      answer.expires_at,
      answer.latency_ms ?? 0,
    ]),
  );
}

interface CachedRow {
  seller_id: string;
  available: boolean;
  price_minor: string | null;
  currency: string | null;
  quote_id: string | null;
  expires_at: string | null;
  latency_ms: number;
}

/** The answers of the fan-out that started at `started_at` (or later), as shared quotes. */
export async function readPublishedQuotes(deps: Deps, product_id: string, started_at: string): Promise<QuoteRecord[]> {
  const rows = await deps.transactions.read((tx) =>
    tx.rows<CachedRow>(
      `SELECT seller_id, available, price_minor, currency, quote_id, expires_at, latency_ms FROM seller_quotes
       WHERE product_id = ? AND fetched_at >= CAST(? AS TIMESTAMPTZ)`,
      [product_id, started_at],
    ),
  );
  return rows.map((row) => ({
    seller_id: row.seller_id,
    available: row.available,
    price: row.price_minor === null ? null : Number(row.price_minor),
    currency: row.currency,
    quote_id: row.quote_id,
    expires_at: row.expires_at && timestamp(row.expires_at),
    latency_ms: row.latency_ms,
    error: null,
    cached: true,
  }));
}

/** The fleet's memory of each seller for a product (last quote, however old) and its shared health. */
export async function readHistory(deps: Deps, product_id: string): Promise<Map<string, SellerHistory>> {
  const window = `${deps.config.sellers.circuit_window_ms} milliseconds`;
  const rows = await deps.transactions.read((tx) =>
    tx.rows<{
      seller_id: string;
      available: boolean | null;
      price_minor: string | null;
      fetched_at: string | null;
      latency_ms_avg: number | null;
      recent_calls: number;
      recent_failures: number;
    }>(
      `SELECT h.seller_id, q.available, q.price_minor, q.fetched_at, h.latency_ms_avg,
              CASE WHEN h.window_started_at > now() - CAST(? AS INTERVAL) THEN h.window_calls ELSE 0 END AS recent_calls,
              CASE WHEN h.window_started_at > now() - CAST(? AS INTERVAL) THEN h.window_failures ELSE 0 END AS recent_failures
       FROM seller_health h LEFT JOIN seller_quotes q ON q.seller_id = h.seller_id AND q.product_id = ?`,
      [window, window, product_id],
    ),
  );
  return new Map(
    rows.map((row) => [
      row.seller_id,
      {
        last_available: row.available,
        last_price_minor: row.price_minor === null ? null : Number(row.price_minor),
        observed_at_ms: row.fetched_at === null ? null : Date.parse(timestamp(row.fetched_at)),
        latency_ms_avg: row.latency_ms_avg,
        recent_error_rate: row.recent_calls === 0 ? 0 : row.recent_failures / row.recent_calls,
      },
    ]),
  );
}

/**
 * Cached quotes and fan-out records past the retention; both are only history by then. A fan-out
 * abandoned without an answer (no seller active, every circuit open) never completes: it goes once
 * it started that long ago (a player could leave one per product id asked for).
 */
export async function purgeQuoteCache(deps: Deps, batch_size: number): Promise<number> {
  const retention = `${deps.config.sellers.state_retention_ms} milliseconds`;
  const quotes = await autocommit(deps, (tx) =>
    tx.execute(
      `DELETE FROM seller_quotes WHERE (product_id, seller_id) IN
         (SELECT product_id, seller_id FROM seller_quotes WHERE fetched_at < now() - CAST(? AS INTERVAL) LIMIT ?)`,
      [retention, batch_size],
    ),
  );
  const fanouts = await autocommit(deps, (tx) =>
    tx.execute(
      `DELETE FROM quote_fanouts WHERE product_id IN
         (SELECT product_id FROM quote_fanouts
          WHERE COALESCE(completed_at, started_at) < now() - CAST(? AS INTERVAL)
            AND (lease_expires_at IS NULL OR lease_expires_at < now()) LIMIT ?)`,
      [retention, batch_size],
    ),
  );
  return quotes + fanouts;
}
