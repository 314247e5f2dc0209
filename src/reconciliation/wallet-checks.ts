import { int8, int8Exact, type SqlTx } from '../db/sql.js';
import type { Config } from '../platform/config.js';
import type { Mismatch } from './reconcile.js';
import { partnerEventsHeldForReview } from './shop-checks.js';

/**
 * Withdrawals, merchants and revenue shares (SPEC §10), over the same snapshot as the other checks.
 */

/** Each withdrawal moved its money out once, and settled it once: PAID to @payouts, FAILED back to the wallet, PENDING neither. */
export async function withdrawalLedger(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{
    id: string;
    status: string;
    amount_minor: string;
    debits: string;
    payouts: string;
    returns: string;
    wrong: string;
  }>(
    `SELECT w.id, w.status, w.amount_minor,
       COUNT(*) FILTER (WHERE t.type = 'withdrawal') AS debits,
       COUNT(*) FILTER (WHERE t.type = 'payout') AS payouts,
       COUNT(*) FILTER (WHERE t.type = 'withdrawal_return') AS returns,
       COUNT(*) FILTER (WHERE t.amount_minor <> w.amount_minor OR t.account_id <> w.account_id OR t.currency <> w.currency) AS wrong
     FROM withdrawals w LEFT JOIN ledger_transactions t ON t.withdrawal_id = w.id
     GROUP BY w.id, w.status, w.amount_minor`,
  );
  return rows.flatMap((row) => {
    const actual = { debits: int8(row.debits), payouts: int8(row.payouts), returns: int8(row.returns), wrong: int8(row.wrong) };
    const expected = { debits: 1, payouts: row.status === 'PAID' ? 1 : 0, returns: row.status === 'FAILED' ? 1 : 0, wrong: 0 };
    const matches = (Object.keys(expected) as Array<keyof typeof expected>).every((key) => expected[key] === actual[key]);
    if (matches) return [];
    return [
      {
        check: 'withdrawal_ledger',
        withdrawal_id: row.id,
        status: row.status,
        expected: JSON.stringify(expected),
        actual: JSON.stringify(actual),
      },
    ];
  });
}

/** @payouts_pending holds exactly the money of the PENDING withdrawals, per currency. */
export async function pendingPayouts(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ currency: string; held: string | null; pending: string | null }>(
    `SELECT COALESCE(s.currency, w.currency) AS currency, s.total AS held, w.total AS pending
     FROM (SELECT currency, SUM(balance_minor) AS total FROM system_balance_shards
           WHERE account_id = '@payouts_pending' GROUP BY currency) s
     FULL OUTER JOIN (SELECT currency, SUM(amount_minor) AS total FROM withdrawals WHERE status = 'PENDING' GROUP BY currency) w
       ON w.currency = s.currency
     WHERE COALESCE(s.total, 0) <> COALESCE(w.total, 0)`,
  );
  return rows.map((row) => ({
    check: 'payouts_pending_balance',
    account_id: '@payouts_pending',
    currency: row.currency,
    expected: int8Exact(row.pending),
    actual: int8Exact(row.held),
  }));
}

/** Withdrawals the provider has not settled in time, and callbacks held for review: each needs a person until settled. */
export async function payoutsNeedingAPerson(tx: SqlTx): Promise<Mismatch[]> {
  const unanswered = await tx.rows<{ id: string; created_at: string }>(
    "SELECT id, created_at FROM withdrawals WHERE status = 'PENDING' AND reconciliation_required_at IS NOT NULL ORDER BY created_at",
  );
  return [
    ...unanswered.map((row) => ({
      check: 'withdrawal_unanswered',
      withdrawal_id: row.id,
      expected: 'PAID or FAILED by the payout provider',
      actual: `PENDING since ${row.created_at}`,
    })),
    ...(await partnerEventsHeldForReview(tx, { log: 'payout_events', subject: 'withdrawal_id', check: 'payout_event_held_for_review' })),
  ];
}

/** A merchant's wallet goes below zero only by refund take-backs, and never past the merchant credit limit. */
export async function merchantCredit(tx: SqlTx, config: Config): Promise<Mismatch[]> {
  const rows = await tx.rows<{ account_id: string; currency: string; available: string }>(
    `SELECT account_id, currency, balance_minor - held_minor AS available FROM wallets
     WHERE overdraft_allowed AND balance_minor - held_minor < ?`,
    [-config.limits.merchant_credit_limit_minor],
  );
  return rows.map((row) => ({
    check: 'merchant_credit_limit',
    account_id: row.account_id,
    currency: row.currency,
    expected: -config.limits.merchant_credit_limit_minor,
    actual: int8(row.available),
  }));
}

/** The money refunded against an order's lines adds up to what the order says was refunded (merchant take-backs follow it). */
export async function orderLineRefunds(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ id: string; refunded_minor: string; lines_refunded: string }>(
    `SELECT o.id, o.refunded_minor, SUM(l.refunded_minor) AS lines_refunded FROM orders o JOIN order_lines l ON l.order_id = o.id
     GROUP BY o.id, o.refunded_minor HAVING SUM(l.refunded_minor) <> o.refunded_minor`,
  );
  return rows.map((row) => ({
    check: 'order_line_refunds',
    order_id: row.id,
    expected: int8Exact(row.refunded_minor),
    actual: int8Exact(row.lines_refunded),
  }));
}

export const WALLET_CHECKS = [withdrawalLedger, pendingPayouts, payoutsNeedingAPerson, merchantCredit, orderLineRefunds];
