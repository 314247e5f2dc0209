import type { WalletBalance } from '../domain/money.js';
import type { AccountKind, AccountStatus } from '../ledger/ledger-records.js';

/** What every view of an account shows, wherever it was read from. */
export interface AccountFacts {
  id: string;
  kind: AccountKind;
  status: AccountStatus;
  kyc_tier: number;
  fee_bps: number | null;
  fee_min_minor: number | null;
  region: string;
  created_at: string;
}

export function accountView(account: AccountFacts, wallets: readonly WalletBalance[]) {
  return {
    id: account.id,
    kind: account.kind,
    home_region: account.region,
    status: account.status,
    kyc_tier: account.kyc_tier,
    fee_plan: account.fee_bps === null ? null : { fee_bps: account.fee_bps, fee_min: account.fee_min_minor ?? 0 },
    created_at: account.created_at,
    wallets: [...wallets].sort((a, b) => a.currency.localeCompare(b.currency)),
  };
}
export type AccountView = ReturnType<typeof accountView>;
