import type { Actor } from '../auth/tokens.js';
import type { AppDeps } from '../platform/deps.js';
import { requireOpen } from './account-status.js';
import { complianceOperation, recordAction } from './compliance-actions.js';
import type { LimitName, LimitOverrides } from './kyc-tiers.js';
import { limitsView, type LimitsView } from './limits-view.js';

/** PUT /accounts/{id}/limits: a value overrides the tier's limit for this account, null gives it back to the tier. */
export type LimitChanges = Partial<Record<LimitName, number | boolean | null>>;

export function applyLimitChanges(overrides: LimitOverrides, changes: LimitChanges): LimitOverrides {
  const next: Record<string, number | boolean> = { ...overrides };
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete next[name];
    else if (value !== undefined) next[name] = value;
  }
  return next as LimitOverrides;
}

/** Sets or clears per-account limits (a VIP's higher limits), compliance:write, recorded; effective from the commit on. */
export async function setLimitOverrides(
  deps: AppDeps,
  actor: Actor,
  input: { account_id: string; changes: LimitChanges },
): Promise<LimitsView> {
  const operation = await complianceOperation(deps, actor, input.account_id, {
    name: 'set_limit_overrides',
    decide: (unit, account) => {
      requireOpen(account);
      const limit_overrides = applyLimitChanges(account.limit_overrides, input.changes);
      const changed = unit.accounts.update(account.id, { limit_overrides });
      recordAction(unit, changed, { kind: 'limits', actor, reason: null, details: { changes: input.changes, overrides: limit_overrides } });
      const wallets = unit.wallets.all().filter((wallet) => wallet.account_id === account.id);
      return limitsView(changed, wallets, deps.config.limits.kyc, unit.now_ms);
    },
  });
  return deps.writes.run(operation);
}
