import { randomUUID } from 'node:crypto';
import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { Needs, Operation } from '../batch/operation.js';
import type { Unit } from '../batch/unit.js';
import { accountView } from '../accounts/account-view.js';
import { walletBalance } from '../domain/money.js';
import type { AccountRecord } from '../ledger/ledger-records.js';
import { requireAccount, takeSequence } from '../ledger/posting.js';
import type { AppDeps } from '../platform/deps.js';
import { COMPLIANCE_ACTIONS, type ComplianceActionKind, type ComplianceActionRecord } from './compliance-records.js';

/** How an actor is named in the compliance log: `service:<id>` or `player:<id>`. */
export const actorName = (actor: Actor) => `${actor.kind}:${actor.id}`;

/**
 * Records who changed an account's status, tier or limits, when and why: the one place every
 * such change passes (an event of the outbox, later, is one line here). It takes the account's
 * next history number, so the log lists in commit order.
 */
export function recordAction(
  unit: Unit,
  account: AccountRecord,
  action: { kind: ComplianceActionKind; actor: Actor; reason: string | null; details: Record<string, unknown> },
): ComplianceActionRecord {
  return unit.table(COMPLIANCE_ACTIONS).insert({
    id: randomUUID(),
    account_id: account.id,
    account_seq: takeSequence(unit, account.id, 1),
    action: action.kind,
    actor: actorName(action.actor),
    reason: action.reason,
    details: action.details,
    region: account.region,
    created_at: unit.now,
  });
}

/**
 * A change of one account by compliance (compliance:write, checked before anything is looked
 * up): the account is locked by its batch, and is not_found when there is no player or merchant
 * account of that id.
 */
export async function complianceOperation<T>(
  deps: AppDeps,
  actor: Actor,
  account_id: string,
  spec: { name: string; needs?: Omit<Needs, 'accounts'>; decide: (unit: Unit, account: AccountRecord) => T },
): Promise<Operation<T>> {
  requireScope(actor, 'compliance:write');
  return {
    name: spec.name,
    region: (await deps.directory.regionOf(account_id)) ?? deps.region,
    needs: { ...spec.needs, accounts: [account_id] },
    decide: (unit) => spec.decide(unit, requireAccount(unit, account_id)),
  };
}

/** The view of an account its batch locked, with its wallets as the batch leaves them. */
export function lockedAccountView(unit: Unit, account: AccountRecord) {
  const wallets = unit.wallets.all().filter((wallet) => wallet.account_id === account.id);
  return accountView(
    account,
    wallets.map((wallet) => walletBalance(wallet.currency, wallet.balance_minor, wallet.held_minor)),
  );
}
