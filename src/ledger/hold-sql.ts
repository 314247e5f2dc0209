import { randomUUID } from 'node:crypto';
import { requireActive } from '../compliance/account-status.js';
import { DomainError, invalidState, notFound } from '../domain/errors.js';
import type { SqlTx } from '../db/sql.js';
import { toHoldRecord, type AccountStatus, type HoldOwner, type HoldRecord, type TransactionReferences } from './ledger-records.js';
import { holdFunds, postTransaction, releaseFunds, type LedgerLimits, type PostedTransaction } from './ledger-repository.js';
import { findHold } from './ledger-queries.js';
import { movement } from './postings.js';

// The holds of the seller aggregator's purchase jobs, on the transaction runner: the last money
// path not yet moved onto the batched write path (src/batch); it goes when the jobs move.

const toHold = (row: Record<string, unknown>) => toHoldRecord(row);

export interface NewHold {
  owner: HoldOwner;
  account_id: string;
  currency: string;
  amount_minor: number;
  expires_in_seconds: number;
  destination_account_id: string;
  reference: string | null;
}

/** Authorizes: moves available money into `held` and records the hold, in the caller's transaction (an active account only). */
export async function insertHold(tx: SqlTx, hold: NewHold): Promise<HoldRecord> {
  const account = await tx.maybeOne<{ id: string; status: AccountStatus }>('SELECT id, status FROM accounts WHERE id = ?', [
    hold.account_id,
  ]);
  if (account) requireActive(account);
  await holdFunds(tx, hold.account_id, hold.currency, hold.amount_minor);
  return toHold(
    await tx.one(
      `INSERT INTO holds (id, owner, account_id, currency, amount_minor, status, destination_account_id, reference, expires_at, crdb_region)
     SELECT ?, ?, ?, ?, ?, 'ACTIVE', ?, ?, now() + CAST(? AS INTERVAL), crdb_region FROM accounts WHERE id = ?
     RETURNING *`,
      [
        randomUUID(),
        hold.owner,
        hold.account_id,
        hold.currency,
        hold.amount_minor,
        hold.destination_account_id,
        hold.reference,
        `${hold.expires_in_seconds} seconds`,
        hold.account_id,
      ],
    ),
  );
}

/**
 * An ACTIVE hold of `owner` that has not reached its expiry, or invalid_state saying why not. A
 * hold paying for an order or a purchase request is settled only through it, never through the
 * holds API: otherwise an order could be cancelled with its money captured.
 */
export async function requireLiveHold(tx: SqlTx, id: string, owner: HoldOwner): Promise<HoldRecord> {
  const hold = await findHold(tx, id);
  if (!hold) throw notFound(`hold ${id}`);
  if (hold.owner !== owner) throw invalidState(`hold ${id} pays for a ${hold.owner.replace('_', ' ')}; settle it through that`);
  if (hold.status !== 'ACTIVE') throw invalidState(`hold ${id} is ${hold.status}`);
  const expired = await tx.one<{ expired: boolean }>('SELECT ?::timestamptz <= now() AS expired', [hold.expires_at]);
  if (expired.expired) throw invalidState(`hold ${id} has expired`);
  return hold;
}

/**
 * Marks an ACTIVE hold finished. The caller releases its money from `held` in the same
 * transaction (a capture releases first, then debits what it takes).
 */
export async function finishHold(
  tx: SqlTx,
  hold: HoldRecord,
  outcome: { status: 'CAPTURED' | 'VOIDED' | 'EXPIRED'; captured_minor: number; capture_transaction_id: string | null },
): Promise<HoldRecord> {
  const finished = await tx.maybeOne<Record<string, unknown>>(
    `UPDATE holds SET status = ?, captured_minor = ?, capture_transaction_id = ?, updated_at = now()
     WHERE id = ? AND status = 'ACTIVE' RETURNING *`,
    [outcome.status, outcome.captured_minor, outcome.capture_transaction_id, hold.id],
  );
  if (!finished) throw invalidState(`hold ${hold.id} is no longer ACTIVE`);
  return toHoldRecord(finished);
}

/** Voids or expires an ACTIVE hold: nothing is charged, the held money is available again. */
export async function releaseHold(tx: SqlTx, hold: HoldRecord, status: 'VOIDED' | 'EXPIRED'): Promise<HoldRecord> {
  const finished = await finishHold(tx, hold, { status, captured_minor: 0, capture_transaction_id: null });
  await releaseFunds(tx, hold.account_id, hold.currency, hold.amount_minor);
  return finished;
}

/**
 * Takes `amount_minor` (at most the hold) from an ACTIVE hold to its destination and releases
 * the rest, inside the caller's transaction. Shared by the holds API, orders and purchases.
 */
export async function captureHoldIn(
  tx: SqlTx,
  hold: HoldRecord,
  amount_minor: number,
  references: TransactionReferences & { type?: 'hold_capture' | 'purchase' | 'seller_purchase' },
  limits: LedgerLimits,
): Promise<{ hold: HoldRecord; posted: PostedTransaction }> {
  const held_minor = hold.amount_minor;
  if (amount_minor > held_minor) throw new DomainError('invalid_state', `cannot capture ${amount_minor}: the hold is for ${held_minor}`);
  await releaseFunds(tx, hold.account_id, hold.currency, held_minor);
  const { type = 'hold_capture', ...rest } = references;
  const posted = await postTransaction(
    tx,
    {
      ...rest,
      type,
      account_id: hold.account_id,
      currency: hold.currency,
      amount_minor,
      hold_id: hold.id,
      reference: rest.reference ?? hold.reference,
      postings: movement(hold.account_id, hold.destination_account_id, hold.currency, amount_minor),
    },
    limits,
  );
  const finished = await finishHold(tx, hold, { status: 'CAPTURED', captured_minor: amount_minor, capture_transaction_id: posted.id });
  return { hold: finished, posted };
}
