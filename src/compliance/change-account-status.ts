import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { Unit } from '../batch/unit.js';
import { emitEvent } from '../events/emit.js';
import type { EventType } from '../events/event-types.js';
import type { AccountRecord } from '../ledger/ledger-records.js';
import type { AppDeps } from '../platform/deps.js';
import { assertClosable, nextStatus, type StatusAction } from './account-status.js';
import { complianceOperation, lockedAccountView, recordAction } from './compliance-actions.js';
import { obligationsOf } from './obligations.js';

const STATUS_EVENTS: Record<StatusAction, EventType> = { freeze: 'account.frozen', unfreeze: 'account.unfrozen', close: 'account.closed' };

/**
 * Freezes, unfreezes or closes an account (compliance:write), exactly once per Idempotency-Key,
 * recorded with who, when and why. Every operation that moves money decides on the account's
 * status in its own batch, so a freeze holds from the commit on, in every pod. Closing needs
 * every wallet at zero (no money, no active hold) and nothing pending: the batch reads the
 * account's pending withdrawals and top-ups with the account locked.
 */
export async function changeAccountStatus(
  deps: AppDeps,
  actor: Actor,
  input: { account_id: string; action: StatusAction; reason?: string },
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  const operation = await complianceOperation(deps, actor, input.account_id, {
    name: `${input.action}_account`,
    needs: input.action === 'close' ? { obligations: [input.account_id] } : {},
    decide: (unit, account) => {
      if (input.action === 'close') assertClosable(account.id, obligationsOf(unit, account.id));
      return changeStatusIn(unit, account, input.action, actor, input.reason ?? null);
    },
  });
  return deps.writes.request(operation, idempotency);
}

/** The status change itself, in the caller's batch (the account locked by it): recorded with who and why, and its event. */
export function changeStatusIn(unit: Unit, account: AccountRecord, action: StatusAction, actor: Actor, reason: string | null) {
  const status = nextStatus(account.status, action, account.id);
  const changed = unit.accounts.update(account.id, { status });
  recordAction(unit, changed, { kind: action, actor, reason, details: { from: account.status, to: status } });
  const view = lockedAccountView(unit, changed);
  emitEvent(unit, { type: STATUS_EVENTS[action], account_id: account.id, data: view });
  return view;
}
