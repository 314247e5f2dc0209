import { randomUUID } from 'node:crypto';
import type { Unit } from '../batch/unit.js';
import { DomainError, invalidState, notFound } from '../domain/errors.js';
import { emitEvent } from '../events/emit.js';
import type { HoldOwner, HoldRecord } from './ledger-records.js';
import { holdFunds, postTransaction, releaseFunds, requireAccount, type LedgerLimits, type PostedTransaction } from './posting.js';
import { movement } from './postings.js';
import type { Metadata, TransactionReferences } from './ledger-records.js';
import { holdView } from './views.js';

export interface NewHold {
  owner: HoldOwner;
  account_id: string;
  currency: string;
  amount_minor: number;
  expires_in_seconds: number;
  destination_account_id: string;
  reference: string | null;
  /** Server-made id, when the caller must know it before the hold exists (an order references its hold). */
  id?: string;
  metadata?: Metadata;
}

/** Authorizes: moves available money into `held` and records an ACTIVE hold (an active account, within its KYC limits). */
export function insertHold(unit: Unit, hold: NewHold, limits: LedgerLimits): HoldRecord {
  const account = requireAccount(unit, hold.account_id);
  holdFunds(unit, hold.account_id, hold.currency, hold.amount_minor, limits.kyc);
  const created = unit.holds.insert({
    id: hold.id ?? randomUUID(),
    account_id: hold.account_id,
    currency: hold.currency,
    amount_minor: hold.amount_minor,
    captured_minor: 0,
    status: 'ACTIVE',
    owner: hold.owner,
    destination_account_id: hold.destination_account_id,
    reference: hold.reference,
    capture_transaction_id: null,
    metadata: hold.metadata ?? {},
    expires_at: new Date(unit.now_ms + hold.expires_in_seconds * 1000).toISOString(),
    region: account.region,
    created_at: unit.now,
    updated_at: unit.now,
  });
  emitEvent(unit, { type: 'hold.created', account_id: created.account_id, data: holdView(created) });
  return created;
}

/**
 * An ACTIVE hold of `owner` that has not reached its expiry, or invalid_state saying why not. A
 * hold paying for an order or a purchase request is settled only through it, never through the
 * holds API: otherwise an order could be cancelled with its money captured.
 */
export function requireLiveHold(unit: Unit, id: string, owner: HoldOwner): HoldRecord {
  const hold = unit.holds.get(id);
  if (!hold) throw notFound(`hold ${id}`);
  if (hold.owner !== owner) throw invalidState(`hold ${id} pays for a ${hold.owner.replace('_', ' ')}; settle it through that`);
  if (hold.status !== 'ACTIVE') throw invalidState(`hold ${id} is ${hold.status}`);
  if (Date.parse(hold.expires_at) <= unit.now_ms) throw invalidState(`hold ${id} has expired`);
  return hold;
}

/** Voids or expires an ACTIVE hold: nothing is charged, the held money is available again. */
export function releaseHold(unit: Unit, hold: HoldRecord, status: 'VOIDED' | 'EXPIRED'): HoldRecord {
  releaseFunds(unit, hold.account_id, hold.currency, hold.amount_minor);
  const released = unit.holds.update(hold.id, { status, updated_at: unit.now });
  emitEvent(unit, {
    type: status === 'VOIDED' ? 'hold.voided' : 'hold.expired',
    account_id: released.account_id,
    data: holdView(released),
  });
  return released;
}

/**
 * Takes `amount_minor` (at most the hold) from an ACTIVE hold to its destination and releases
 * the rest. Shared by the holds API, orders and purchases.
 */
export function captureHold(
  unit: Unit,
  hold: HoldRecord,
  amount_minor: number,
  references: TransactionReferences & { type?: 'hold_capture' | 'purchase' | 'seller_purchase' },
  limits: LedgerLimits,
): { hold: HoldRecord; posted: PostedTransaction } {
  if (amount_minor > hold.amount_minor)
    throw new DomainError('invalid_state', `cannot capture ${amount_minor}: the hold is for ${hold.amount_minor}`);
  releaseFunds(unit, hold.account_id, hold.currency, hold.amount_minor);
  const { type = 'hold_capture', ...rest } = references;
  const posted = postTransaction(
    unit,
    {
      ...rest,
      type,
      account_id: hold.account_id,
      currency: hold.currency,
      amount_minor,
      hold_id: hold.id,
      reference: rest.reference ?? hold.reference,
      metadata: hold.metadata,
      postings: movement(hold.account_id, hold.destination_account_id, hold.currency, amount_minor),
    },
    limits,
  );
  const captured = unit.holds.update(hold.id, {
    status: 'CAPTURED',
    captured_minor: amount_minor,
    capture_transaction_id: posted.id,
    updated_at: unit.now,
  });
  emitEvent(unit, { type: 'hold.captured', account_id: captured.account_id, data: holdView(captured) });
  return { hold: captured, posted };
}
