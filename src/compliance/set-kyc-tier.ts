import type { Actor } from '../auth/tokens.js';
import type { AccountView } from '../accounts/account-view.js';
import { requireOpen } from './account-status.js';
import type { AppDeps } from '../platform/deps.js';
import { complianceOperation, lockedAccountView, recordAction } from './compliance-actions.js';
import type { KycTier } from './kyc-tiers.js';

/**
 * Sets an account's KYC tier (compliance:write) with the reason, recorded. PUT semantics: setting
 * the tier it has changes and records nothing. Its limits apply from the batch's commit on.
 */
export async function setKycTier(
  deps: AppDeps,
  actor: Actor,
  input: { account_id: string; tier: KycTier; reason: string },
): Promise<AccountView> {
  const operation = await complianceOperation(deps, actor, input.account_id, {
    name: 'set_kyc_tier',
    decide: (unit, account) => {
      requireOpen(account);
      const changed = account.kyc_tier === input.tier ? account : unit.accounts.update(account.id, { kyc_tier: input.tier });
      if (changed !== account) {
        recordAction(unit, changed, { kind: 'kyc_tier', actor, reason: input.reason, details: { from: account.kyc_tier, to: input.tier } });
      }
      return lockedAccountView(unit, changed);
    },
  });
  return deps.writes.run(operation);
}
