import { randomUUID } from 'node:crypto';
import { invalidState, notFound } from '../domain/errors.js';
import type { SqlTx } from '../db/sql.js';
import { int8 } from '../db/sql.js';
import { holdFunds, releaseFunds } from './ledger-repository.js';
import { findHold } from './ledger-queries.js';
import type { HoldRow } from './views.js';

/** Who settles a hold: the holds API, or the order or purchase request it pays for (only they may). */
export type HoldOwner = 'api' | 'order' | 'purchase_request';

export interface NewHold {
  owner: HoldOwner;
  account_id: string;
  currency: string;
  amount_minor: number;
  expires_in_seconds: number;
  destination_account_id: string;
  reference: string | null;
}

/** Authorizes: moves available money into `held` and records the hold, in the caller's transaction. */
export async function insertHold(tx: SqlTx, hold: NewHold): Promise<HoldRow> {
  await holdFunds(tx, hold.account_id, hold.currency, hold.amount_minor);
  return tx.one<HoldRow>(
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
  );
}

/**
 * An ACTIVE hold of `owner` that has not reached its expiry, or invalid_state saying why not. A
 * hold paying for an order or a purchase request is settled only through it, never through the
 * holds API: otherwise an order could be cancelled with its money captured.
 */
export async function requireLiveHold(tx: SqlTx, id: string, owner: HoldOwner): Promise<HoldRow> {
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
  hold: HoldRow,
  outcome: { status: 'CAPTURED' | 'VOIDED' | 'EXPIRED'; captured_minor: number; capture_transaction_id: string | null },
): Promise<HoldRow> {
  const finished = await tx.maybeOne<HoldRow>(
    `UPDATE holds SET status = ?, captured_minor = ?, capture_transaction_id = ?, updated_at = now()
     WHERE id = ? AND status = 'ACTIVE' RETURNING *`,
    [outcome.status, outcome.captured_minor, outcome.capture_transaction_id, hold.id],
  );
  if (!finished) throw invalidState(`hold ${hold.id} is no longer ACTIVE`);
  return finished;
}

/** Voids or expires an ACTIVE hold: nothing is charged, the held money is available again. */
export async function releaseHold(tx: SqlTx, hold: HoldRow, status: 'VOIDED' | 'EXPIRED'): Promise<HoldRow> {
  const finished = await finishHold(tx, hold, { status, captured_minor: 0, capture_transaction_id: null });
  await releaseFunds(tx, hold.account_id, hold.currency, int8(hold.amount_minor));
  return finished;
}
