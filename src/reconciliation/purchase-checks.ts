import { int8, type SqlTx } from '../db/sql.js';
import type { Mismatch } from './reconcile.js';

/**
 * A final purchase request settled its wallet hold exactly once: `purchased` has exactly one
 * seller_purchase capture of its final price and a CAPTURED hold; any other final status has no
 * capture and a hold that is no longer ACTIVE (voided, or expired).
 */
export async function purchaseSettlements(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{
    id: string;
    status: string;
    final_price_minor: string | null;
    hold_status: string;
    captured_minor: string;
    captures: string;
    captured_total: string | null;
  }>(
    `SELECT r.id, r.status, r.final_price_minor, h.status AS hold_status, h.captured_minor,
            COUNT(t.id) AS captures, SUM(t.amount_minor) AS captured_total
     FROM purchase_requests r
     JOIN holds h ON h.id = r.hold_id
     LEFT JOIN ledger_transactions t ON t.purchase_request_id = r.id AND t.type = 'seller_purchase'
     WHERE r.status <> 'pending'
     GROUP BY r.id, r.status, r.final_price_minor, h.status, h.captured_minor
     HAVING (r.status = 'purchased'
             AND (COUNT(t.id) <> 1 OR SUM(t.amount_minor) <> r.final_price_minor
                  OR h.status <> 'CAPTURED' OR h.captured_minor <> r.final_price_minor))
         OR (r.status <> 'purchased' AND (COUNT(t.id) <> 0 OR h.status IN ('ACTIVE', 'CAPTURED')))`,
  );
  return rows.map((row) => ({
    check: 'purchase_settlement',
    purchase_request_id: row.id,
    status: row.status,
    hold_status: row.hold_status,
    expected: row.status === 'purchased' ? `one capture of ${row.final_price_minor}` : 'no capture, hold released',
    actual: `${int8(row.captures)} capture(s) totalling ${row.captured_total ?? 0}, hold captured ${row.captured_minor}`,
  }));
}

/** Every seller_purchase capture belongs to a purchased request. */
export async function orphanSellerCaptures(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ id: string; purchase_request_id: string | null; status: string | null }>(
    `SELECT t.id, t.purchase_request_id, r.status FROM ledger_transactions t
     LEFT JOIN purchase_requests r ON r.id = t.purchase_request_id
     WHERE t.type = 'seller_purchase' AND (r.id IS NULL OR r.status <> 'purchased')`,
  );
  return rows.map((row) => ({
    check: 'seller_capture_without_purchase',
    transaction_id: row.id,
    purchase_request_id: row.purchase_request_id,
    expected: 'purchased',
    actual: row.status ?? 'missing',
  }));
}

/**
 * A seller order we know of (a confirmed attempt) is the one its request bought and captured; any other
 * is owed or to cancel, unless a person settled its request after review (review_settlement).
 */
export async function uncapturedSellerOrders(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ purchase_request_id: string; seller_id: string; order_id: string | null; status: string }>(
    `SELECT a.purchase_request_id, a.seller_id, a.order_id, r.status
     FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.purchase_request_id
     WHERE a.state = 'confirmed' AND NOT (r.status = 'purchased' AND r.seller_id = a.seller_id) AND r.review_settlement IS NULL`,
  );
  return rows.map((row) => ({
    check: 'seller_order_without_capture',
    purchase_request_id: row.purchase_request_id,
    seller_id: row.seller_id,
    order_id: row.order_id,
    expected: 'the order of the purchased seller, captured',
    actual: `request ${row.status}`,
  }));
}

/** A purchased request has the confirmed order of the seller it names. */
export async function purchasesWithoutOrder(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ id: string; seller_id: string | null }>(
    `SELECT r.id, r.seller_id FROM purchase_requests r
     WHERE r.status = 'purchased' AND NOT EXISTS (
       SELECT 1 FROM purchase_attempts a WHERE a.purchase_request_id = r.id AND a.seller_id = r.seller_id AND a.state = 'confirmed')`,
  );
  return rows.map((row) => ({
    check: 'purchase_without_seller_order',
    purchase_request_id: row.id,
    seller_id: row.seller_id,
    expected: 'a confirmed order of the purchased seller',
    actual: 'none',
  }));
}

/** Requests kept pending for review (their wallet hold kept) until a seller's late answer or a person settles them. */
export async function requestsInReview(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ id: string; review_reason: string }>(
    'SELECT id, review_reason FROM purchase_requests WHERE review_reason IS NOT NULL ORDER BY created_at, id',
  );
  return rows.map((row) => ({
    check: 'purchase_needs_review',
    purchase_request_id: row.id,
    expected: 'settled',
    actual: row.review_reason,
  }));
}

/** A final request with an attempt still in flight: the seller may have confirmed an order nobody recorded. */
export async function unsettledAttempts(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ purchase_request_id: string; seller_id: string; status: string }>(
    `SELECT a.purchase_request_id, a.seller_id, r.status FROM purchase_attempts a JOIN purchase_requests r ON r.id = a.purchase_request_id
     WHERE a.state = 'started' AND r.status <> 'pending'`,
  );
  return rows.map((row) => ({
    check: 'seller_order_outcome_unknown',
    purchase_request_id: row.purchase_request_id,
    seller_id: row.seller_id,
    expected: 'attempt settled',
    actual: `started, request ${row.status}`,
  }));
}

export const PURCHASE_CHECKS = [
  purchaseSettlements,
  orphanSellerCaptures,
  uncapturedSellerOrders,
  purchasesWithoutOrder,
  unsettledAttempts,
  requestsInReview,
];
