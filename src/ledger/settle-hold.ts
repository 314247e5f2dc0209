import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { Unit } from '../batch/unit.js';
import { notFound } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';
import type { HoldRecord } from './ledger-records.js';
import { findHold } from './ledger-queries.js';
import { captureHold, releaseHold, requireLiveHold } from './holds.js';
import { holdView } from './views.js';
import { requireOpen } from '../compliance/account-status.js';
import { requireAccount } from './posting.js';

/**
 * Capturing or voiding a hold through the holds API (credits:write). The hold is looked up first
 * to know whose wallet it holds (which batcher, which account to lock); the batch decides on the
 * hold as its transaction reads it.
 */
async function settleHold(
  deps: AppDeps,
  actor: Actor,
  hold_id: string,
  name: string,
  idempotency: RequestIdempotency,
  settle: (unit: Unit, hold: HoldRecord) => HoldRecord,
): Promise<RequestAnswer> {
  requireScope(actor, 'credits:write');
  const known = await deps.transactions.read((tx) => findHold(tx, hold_id));
  if (!known) throw notFound(`hold ${hold_id}`);
  return deps.writes.request(
    {
      name,
      region: known.region,
      needs: { accounts: [known.account_id], holds: [hold_id] },
      decide: (unit) => {
        // Nothing changes a closed account, whatever became of the hold.
        requireOpen(requireAccount(unit, known.account_id));
        return holdView(settle(unit, requireLiveHold(unit, hold_id, 'api')));
      },
    },
    idempotency,
  );
}

/** Capture all (default) or part of an ACTIVE hold; the rest is released. */
export function captureHoldRequest(
  deps: AppDeps,
  actor: Actor,
  input: { hold_id: string; amount?: number },
  idempotency: RequestIdempotency,
) {
  return settleHold(deps, actor, input.hold_id, 'capture_hold', idempotency, (unit, hold) => {
    return captureHold(unit, hold, input.amount ?? hold.amount_minor, {}, deps.config.limits).hold;
  });
}

export function voidHoldRequest(deps: AppDeps, actor: Actor, hold_id: string, idempotency: RequestIdempotency) {
  return settleHold(deps, actor, hold_id, 'void_hold', idempotency, (unit, hold) => releaseHold(unit, hold, 'VOIDED'));
}
