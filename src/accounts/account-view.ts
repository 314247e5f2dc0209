import Joi from 'joi';
import type { WalletBalance } from '../domain/money.js';
import { minorSchema, timestampSchema, unionMembers, viewPart, viewSchema, type ViewKeys } from '../platform/view-schema.js';
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

export const walletViewSchema = viewSchema('Wallet', {
  currency: Joi.string(),
  balance: minorSchema.description("A system account's may pass 2^53: read it as an exact integer"),
  held: minorSchema.description('Held by active holds'),
  available: minorSchema.description('balance - held'),
} satisfies ViewKeys<WalletBalance>);

export const accountViewSchema = viewSchema('Account', {
  id: Joi.string(),
  kind: Joi.string().valid(...unionMembers<AccountKind>({ player: true, system: true, merchant: true })),
  home_region: Joi.string(),
  status: Joi.string().valid(...unionMembers<AccountStatus>({ active: true, frozen: true, closed: true })),
  kyc_tier: Joi.number().integer().valid(0, 1, 2),
  fee_plan: viewPart({ fee_bps: Joi.number().integer(), fee_min: minorSchema })
    .allow(null)
    .description("A merchant's fee plan; null for players"),
  created_at: timestampSchema,
  wallets: Joi.array().items(walletViewSchema),
} satisfies ViewKeys<AccountView>);
