import { int8, timestamp, type SqlTx } from '../../db/sql.js';
import { InvariantViolation } from '../../domain/errors.js';
import type { QuoteRecord } from '../quotes/quote-record.js';

export type PurchaseStatus = 'pending' | 'purchased' | 'price_not_met' | 'not_available' | 'failed';

export interface PurchaseRequest {
  id: string;
  account_id: string;
  product_id: string;
  max_price_minor: number;
  currency: string;
  status: PurchaseStatus;
  hold_id: string;
  deadline_at: string;
  quotes: QuoteRecord[] | null;
  final_price_minor: number | null;
  seller_id: string | null;
  confirmation: Confirmation | null;
  lowest_price_minor: number | null;
  failure_reason: string | null;
  /** Set while a pending request waits for a person or a seller's late answer (its wallet hold kept). */
  review_reason: string | null;
  /** A person's note on how they settled the request after review (PUT …/review); null otherwise. */
  review_settlement: string | null;
  region: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface Confirmation {
  seller_id: string;
  order_id: string;
  price: number;
  idempotency_key: string;
}

/** Why an attempt failed; 'interrupted' appears only in rows of earlier versions (an attempt whose seller was gone). */
export type AttemptOutcome =
  | 'out_of_stock'
  | 'quote_expired'
  | 'hold_expired'
  | 'price_moved'
  | 'refused'
  | 'timeout'
  | 'error'
  | 'rate_limited'
  | 'circuit_open'
  | 'busy'
  | 'deadline'
  | 'interrupted';

/** 'hold': a hold at the seller first, then an order naming it; 'quote': an order naming the quote. */
export type OrderRoute = 'hold' | 'quote';

export interface Attempt {
  position: number;
  seller_id: string;
  quote_id: string | null;
  quoted_price_minor: number | null;
  /** How the order goes to the seller (see orderRoute); null: the attempt started before this was recorded. */
  order_route: OrderRoute | null;
  seller_hold_id: string | null;
  held_price_minor: number | null;
  /** `confirmed`: the seller made the order (with outcome `price_moved` when above the price we accept, so not paid). */
  state: 'started' | 'confirmed' | 'failed';
  outcome: AttemptOutcome | null;
  detail: string | null;
  order_id: string | null;
  price_minor: number | null;
  started_at: string;
  finished_at: string | null;
}

type Row<T> = { [K in keyof T]: unknown };
const optionalInt8 = (value: unknown) => (value === null || value === undefined ? null : int8(value as string));
const optionalTimestamp = (value: unknown) => (value === null || value === undefined ? null : timestamp(value as string));

export function toRequest(row: Row<PurchaseRequest> & { max_price_minor: string; crdb_region: string }): PurchaseRequest {
  return {
    id: row.id as string,
    account_id: row.account_id as string,
    product_id: row.product_id as string,
    max_price_minor: int8(row.max_price_minor),
    currency: row.currency as string,
    status: row.status as PurchaseStatus,
    hold_id: row.hold_id as string,
    deadline_at: timestamp(row.deadline_at as string),
    quotes: (row.quotes as QuoteRecord[] | null) ?? null,
    final_price_minor: optionalInt8(row.final_price_minor),
    seller_id: (row.seller_id as string | null) ?? null,
    confirmation: (row.confirmation as Confirmation | null) ?? null,
    lowest_price_minor: optionalInt8(row.lowest_price_minor),
    failure_reason: (row.failure_reason as string | null) ?? null,
    review_reason: (row.review_reason as string | null) ?? null,
    review_settlement: (row.review_settlement as string | null) ?? null,
    region: row.crdb_region,
    created_at: timestamp(row.created_at as string),
    updated_at: timestamp(row.updated_at as string),
    finished_at: optionalTimestamp(row.finished_at),
  };
}

export function toAttempt(row: Row<Attempt>): Attempt {
  return {
    position: row.position as number,
    seller_id: row.seller_id as string,
    quote_id: (row.quote_id as string | null) ?? null,
    quoted_price_minor: optionalInt8(row.quoted_price_minor),
    order_route: (row.order_route as OrderRoute | null) ?? null,
    seller_hold_id: (row.seller_hold_id as string | null) ?? null,
    held_price_minor: optionalInt8(row.held_price_minor),
    state: row.state as Attempt['state'],
    outcome: (row.outcome as AttemptOutcome | null) ?? null,
    detail: (row.detail as string | null) ?? null,
    order_id: (row.order_id as string | null) ?? null,
    price_minor: optionalInt8(row.price_minor),
    started_at: timestamp(row.started_at as string),
    finished_at: optionalTimestamp(row.finished_at),
  };
}

export async function findPurchaseRequest(
  tx: SqlTx,
  id: string,
  options: { for_update?: boolean } = {},
): Promise<PurchaseRequest | undefined> {
  const row = await tx.maybeOne<Row<PurchaseRequest> & { max_price_minor: string; crdb_region: string }>(
    `SELECT * FROM purchase_requests WHERE id = ?${options.for_update ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return row && toRequest(row);
}

export async function listAttempts(tx: SqlTx, purchase_request_id: string): Promise<Attempt[]> {
  const rows = await tx.rows<Row<Attempt>>('SELECT * FROM purchase_attempts WHERE purchase_request_id = ? ORDER BY position', [
    purchase_request_id,
  ]);
  return rows.map(toAttempt);
}

/** The attempts of several requests, each request's in order. */
export async function listAttemptsOf(tx: SqlTx, purchase_request_ids: readonly string[]): Promise<Map<string, Attempt[]>> {
  const rows = await tx.rows<Row<Attempt> & { purchase_request_id: string }>(
    'SELECT * FROM purchase_attempts WHERE purchase_request_id = ANY(?::uuid[]) ORDER BY purchase_request_id, position',
    [[...purchase_request_ids]],
  );
  const attempts = new Map<string, Attempt[]>(purchase_request_ids.map((id) => [id, []]));
  for (const row of rows) attempts.get(row.purchase_request_id)?.push(toAttempt(row));
  return attempts;
}

export async function storeQuotes(tx: SqlTx, request: PurchaseRequest, quotes: readonly QuoteRecord[]): Promise<void> {
  await tx.execute(
    `UPDATE purchase_requests SET quotes = CAST(? AS JSONB), quotes_collected_at = now(), updated_at = now()
     WHERE id = ? AND status = 'pending'`,
    [JSON.stringify(quotes), request.id],
  );
}

export async function insertAttempt(
  tx: SqlTx,
  request: PurchaseRequest,
  attempt: { position: number; seller_id: string; quote_id: string; quoted_price_minor: number; order_route: OrderRoute },
): Promise<Attempt> {
  const row = await tx.one<Row<Attempt>>(
    `INSERT INTO purchase_attempts (purchase_request_id, position, seller_id, quote_id, quoted_price_minor, order_route, state, crdb_region)
     VALUES (?, ?, ?, ?, ?, ?, 'started', ?) RETURNING *`,
    [request.id, attempt.position, attempt.seller_id, attempt.quote_id, attempt.quoted_price_minor, attempt.order_route, request.region],
  );
  return toAttempt(row);
}

/** The seller's hold is written down BEFORE the order is sent, so a successor re-sends the very same order. */
export async function recordSellerHold(
  tx: SqlTx,
  request_id: string,
  position: number,
  hold: { hold_id: string; price_minor: number },
): Promise<void> {
  await tx.execute(
    `UPDATE purchase_attempts SET seller_hold_id = ?, held_price_minor = ?
     WHERE purchase_request_id = ? AND position = ? AND state = 'started'`,
    [hold.hold_id, hold.price_minor, request_id, position],
  );
}

export async function failAttempt(
  tx: SqlTx,
  request_id: string,
  position: number,
  outcome: AttemptOutcome,
  detail: string | null,
  price_minor: number | null,
): Promise<void> {
  await tx.execute(
    `UPDATE purchase_attempts SET state = 'failed', outcome = ?, detail = ?, price_minor = ?, finished_at = now()
     WHERE purchase_request_id = ? AND position = ? AND state = 'started'`,
    [outcome, detail?.slice(0, 300) ?? null, price_minor, request_id, position],
  );
}

/** The seller made the order; `outcome` says why it is not paid (null: it is). */
export async function confirmAttempt(
  tx: SqlTx,
  request_id: string,
  position: number,
  order: { order_id: string; price_minor: number },
  outcome: 'price_moved' | null,
  detail: string | null,
): Promise<void> {
  const updated = await tx.execute(
    `UPDATE purchase_attempts SET state = 'confirmed', order_id = ?, price_minor = ?, outcome = ?, detail = ?, finished_at = now()
     WHERE purchase_request_id = ? AND position = ? AND state = 'started'`,
    [order.order_id, order.price_minor, outcome, detail?.slice(0, 300) ?? null, request_id, position],
  );
  if (updated !== 1) throw new InvariantViolation(`attempt ${request_id}#${position} is not started`);
}

/** What is known so far of an attempt still in flight (its order's outcome is unknown). */
export async function noteAttempt(tx: SqlTx, request_id: string, position: number, detail: string): Promise<void> {
  await tx.execute(`UPDATE purchase_attempts SET detail = ? WHERE purchase_request_id = ? AND position = ? AND state = 'started'`, [
    detail.slice(0, 300),
    request_id,
    position,
  ]);
}

/** Flags a pending request for review; it stays pending with its wallet hold. */
export async function markForReview(tx: SqlTx, request_id: string, reason: string): Promise<void> {
  const updated = await tx.execute(
    `UPDATE purchase_requests SET review_reason = ?, updated_at = now() WHERE id = ? AND status = 'pending'`,
    [reason.slice(0, 500), request_id],
  );
  if (updated !== 1) throw new InvariantViolation(`purchase request ${request_id} is no longer pending`);
}

export interface FinalFields {
  status: Exclude<PurchaseStatus, 'pending'>;
  final_price_minor?: number;
  seller_id?: string;
  confirmation?: Confirmation;
  lowest_price_minor?: number | null;
  failure_reason?: string | null;
}

export async function finishRequest(tx: SqlTx, request_id: string, fields: FinalFields): Promise<void> {
  const updated = await tx.execute(
    `UPDATE purchase_requests SET status = ?, final_price_minor = ?, seller_id = ?, confirmation = CAST(? AS JSONB), lowest_price_minor = ?,
       failure_reason = ?, review_reason = NULL, finished_at = now(), updated_at = now()
     WHERE id = ? AND status = 'pending'`,
    [
      fields.status,
      fields.final_price_minor ?? null,
      fields.seller_id ?? null,
      fields.confirmation ? JSON.stringify(fields.confirmation) : null,
      fields.lowest_price_minor ?? null,
      fields.failure_reason ?? null,
      request_id,
    ],
  );
  if (updated !== 1) throw new InvariantViolation(`purchase request ${request_id} is no longer pending`);
}
