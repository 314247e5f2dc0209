import { int8, int8Exact, type SqlTx } from '../db/sql.js';
import type { Mismatch } from './reconcile.js';

const PAID = "('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED')";

/**
 * Invariant 4: a paid order has its payment for its total and one entitlement per line; a fully
 * refunded one has none of their units left (an order once ended REFUNDED with one kept).
 */
export async function paidOrders(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{
    id: string;
    account_id: string;
    status: string;
    total_minor: string;
    paid_minor: string | null;
    lines: string;
    entitlements: string;
    units_kept: string | null;
  }>(
    `SELECT o.id, o.account_id, o.status, o.total_minor, t.amount_minor AS paid_minor,
            (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id) AS lines,
            (SELECT COUNT(*) FROM entitlements e WHERE e.order_id = o.id) AS entitlements,
            (SELECT SUM(e.quantity - e.revoked_quantity) FROM entitlements e WHERE e.order_id = o.id) AS units_kept
     FROM orders o LEFT JOIN ledger_transactions t ON t.id = o.payment_transaction_id AND t.order_id = o.id AND t.type IN ('purchase')
     WHERE o.status IN ${PAID}`,
  );
  return rows.flatMap((row): Mismatch[] => {
    const found: Mismatch[] = [];
    const total = int8(row.total_minor);
    if (row.paid_minor === null || int8(row.paid_minor) !== total) {
      found.push({
        check: 'order_payment',
        order_id: row.id,
        account_id: row.account_id,
        expected: total,
        actual: row.paid_minor === null ? 0 : int8(row.paid_minor),
      });
    }
    if (int8(row.lines) !== int8(row.entitlements)) {
      found.push({
        check: 'order_entitlements',
        order_id: row.id,
        account_id: row.account_id,
        expected: int8(row.lines),
        actual: int8(row.entitlements),
      });
    }
    const units_kept = int8(row.units_kept ?? 0);
    if (row.status === 'REFUNDED' && units_kept > 0) {
      found.push({ check: 'refunded_order_entitlements', order_id: row.id, account_id: row.account_id, expected: 0, actual: units_kept });
    }
    return found;
  });
}

/** The other half of invariant 4: no payment or entitlement without a paid order. */
export async function orphanPurchases(tx: SqlTx): Promise<Mismatch[]> {
  const payments = await tx.rows<{ id: string; order_id: string; status: string | null }>(
    `SELECT t.id, t.order_id, o.status FROM ledger_transactions t LEFT JOIN orders o ON o.id = t.order_id
     WHERE t.type = 'purchase' AND (o.id IS NULL OR o.status NOT IN ${PAID})`,
  );
  const grants = await tx.rows<{ id: string; order_id: string; status: string }>(
    `SELECT e.id, e.order_id, o.status FROM entitlements e JOIN orders o ON o.id = e.order_id WHERE o.status NOT IN ${PAID}`,
  );
  return [
    ...payments.map((row) => ({
      check: 'payment_without_order',
      transaction_id: row.id,
      order_id: row.order_id,
      expected: 'paid order',
      actual: row.status ?? 'missing',
    })),
    ...grants.map((row) => ({
      check: 'entitlement_without_payment',
      entitlement_id: row.id,
      order_id: row.order_id,
      expected: 'paid order',
      actual: row.status,
    })),
  ];
}

/**
 * An order's refunded amount equals its refund records and their ledger transactions (an order
 * with either and no refunded amount too). The ledger is read once, summed per order: looked up per
 * order it was a scan of the ledger each (no index on order_id, none worth its write per purchase),
 * and past a few hundred thousand transactions reconciliation ran into the statement timeout.
 */
export async function orderRefunds(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ id: string; refunded_minor: string; records: string | null; ledger: string | null }>(
    `SELECT o.id, o.refunded_minor, r.total AS records, t.total AS ledger
     FROM orders o
     LEFT JOIN (SELECT order_id, SUM(amount_minor) AS total FROM order_refunds GROUP BY order_id) r ON r.order_id = o.id
     LEFT JOIN (SELECT order_id, SUM(amount_minor) AS total FROM ledger_transactions WHERE type = 'order_refund' GROUP BY order_id) t
       ON t.order_id = o.id
     WHERE o.refunded_minor > 0 OR o.status IN ('PARTIALLY_REFUNDED', 'REFUNDED') OR r.total IS NOT NULL OR t.total IS NOT NULL`,
  );
  return rows
    .filter((row) => int8Exact(row.refunded_minor) !== int8Exact(row.records) || int8Exact(row.refunded_minor) !== int8Exact(row.ledger))
    .map((row) => ({
      check: 'order_refunded_amount',
      order_id: row.id,
      expected: int8Exact(row.refunded_minor),
      actual: `${row.records ?? 0} recorded, ${row.ledger ?? 0} in the ledger`,
    }));
}

/** Every SUCCEEDED (or later REVERSED) top-up has exactly one credit; no other top-up has any. */
export async function topupCredits(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ id: string; status: string; amount_minor: string; credits: string; credited_minor: string | null }>(
    `SELECT p.id, p.status, p.amount_minor, COUNT(t.id) AS credits, SUM(t.amount_minor) AS credited_minor
     FROM topups p LEFT JOIN ledger_transactions t ON t.topup_id = p.id AND t.type = 'topup'
     GROUP BY p.id, p.status, p.amount_minor`,
  );
  return rows.flatMap((row): Mismatch[] => {
    const expected = row.status === 'SUCCEEDED' || row.status === 'REVERSED' ? 1 : 0;
    const credits = int8(row.credits);
    if (credits !== expected) return [{ check: 'topup_credits', topup_id: row.id, status: row.status, expected, actual: credits }];
    if (expected === 1 && int8Exact(row.credited_minor) !== int8Exact(row.amount_minor)) {
      return [
        { check: 'topup_credit_amount', topup_id: row.id, expected: int8Exact(row.amount_minor), actual: int8Exact(row.credited_minor) },
      ];
    }
    return [];
  });
}

/**
 * A top-up's reversed and unrecovered amounts are what its reversal transactions moved: in total,
 * and the part booked as a loss on @chargebacks, less what compliance recovered of it since.
 */
export async function topupReversals(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{
    id: string;
    reversed_minor: string;
    unrecovered_minor: string;
    ledger_reversed: string;
    ledger_unrecovered: string;
  }>(
    // The reversals read once, summed per top-up (per top-up, each lookup scanned the ledger).
    `SELECT p.id, p.reversed_minor, p.unrecovered_minor,
            COALESCE(v.reversed, 0) AS ledger_reversed, COALESCE(c.unrecovered, 0) AS ledger_unrecovered
     FROM topups p
     LEFT JOIN (SELECT topup_id, SUM(amount_minor) AS reversed FROM ledger_transactions WHERE type = 'topup_reversal' GROUP BY topup_id) v
       ON v.topup_id = p.id
     LEFT JOIN (SELECT t.topup_id, -SUM(e.amount_minor) AS unrecovered
                FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id AND e.account_id = '@chargebacks'
                WHERE t.type IN ('topup_reversal', 'chargeback_recovery') GROUP BY t.topup_id) c ON c.topup_id = p.id
     WHERE p.status IN ('SUCCEEDED', 'REVERSED') OR v.topup_id IS NOT NULL`,
  );
  return rows
    .filter(
      (row) =>
        int8Exact(row.reversed_minor) !== int8Exact(row.ledger_reversed) ||
        int8Exact(row.unrecovered_minor) !== int8Exact(row.ledger_unrecovered),
    )
    .map((row) => ({
      check: 'topup_reversed_amount',
      topup_id: row.id,
      expected: `${row.reversed_minor} reversed, ${row.unrecovered_minor} unrecovered`,
      actual: `${row.ledger_reversed} reversed, ${row.ledger_unrecovered} unrecovered in the ledger`,
    }));
}

/**
 * PSP events that could not be applied automatically (amount or currency mismatch, reversals
 * beyond the amount, an unknown top-up, a reused event id, a malformed body, ...): recorded and
 * held for an operator, reported here until one settles it (PUT /v1/psp/events/{id}/review), so that
 * none goes unnoticed.
 */
export function pspEventsHeldForReview(tx: SqlTx): Promise<Mismatch[]> {
  return partnerEventsHeldForReview(tx, { log: 'psp_events', subject: 'topup_id', check: 'psp_event_held_for_review' });
}

/**
 * The events of a partner's log (PSP, payout provider) held for review and not settled yet. A body
 * that reused an id is kept under the hash of its bytes: the event id is the one it reused.
 */
export async function partnerEventsHeldForReview(
  tx: SqlTx,
  partner: { log: 'psp_events' | 'payout_events'; subject: 'topup_id' | 'withdrawal_id'; check: string },
): Promise<Mismatch[]> {
  const rows = await tx.rows<{
    id: string;
    conflicts_with: string | null;
    subject_id: string | null;
    outcome: string;
    review_reason: string;
  }>(
    `SELECT id, conflicts_with, ${partner.subject} AS subject_id, outcome, review_reason FROM ${partner.log}
     WHERE review_reason IS NOT NULL AND review_settled_at IS NULL ORDER BY received_at, id`,
  );
  return rows.map((row) => ({
    check: partner.check,
    event_id: row.conflicts_with ?? row.id,
    log_id: row.id,
    [partner.subject]: row.subject_id,
    outcome: row.outcome,
    expected: 'applied, or settled by an operator',
    actual: row.review_reason,
  }));
}

export const SHOP_CHECKS = [paidOrders, orphanPurchases, orderRefunds, topupCredits, topupReversals, pspEventsHeldForReview];
