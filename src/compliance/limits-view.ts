import Joi from 'joi';
import type { AccountRecord, WalletRecord } from '../ledger/ledger-records.js';
import { minorSchema, timestampSchema, viewPart, viewSchema, type ViewKeys } from '../platform/view-schema.js';
import type { KycSettings } from '../platform/wallet-config.js';
import { LIMIT_NAMES, type KycTier, type LimitName } from './kyc-tiers.js';
import { currentUsage, effectiveLimits } from './kyc-limits.js';
import { withOpenHolds } from './wallet-guard.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const iso = (ms: number) => new Date(ms).toISOString();

/** The account facts the limits view needs. */
export type LimitedAccount = Pick<AccountRecord, 'id' | 'kind' | 'kyc_tier' | 'limit_overrides'>;

/**
 * An account's effective limits (its tier's, or its own override) and, per limited wallet, what
 * it used in the current UTC day and hour and what remains. `now_ms` places the windows.
 */
export function limitsView(account: LimitedAccount, wallets: readonly WalletRecord[], kyc: KycSettings, now_ms: number) {
  const limits = effectiveLimits(kyc.tiers, account.kyc_tier as KycTier, account.limit_overrides);
  const applies = kyc.enabled && account.kind === 'player';
  return {
    account_id: account.id,
    kyc_tier: account.kyc_tier,
    // Merchants and accounts of a deployment without limits are not limited; neither are game currencies.
    limits_apply: applies,
    limited_currencies: [...kyc.limited_currencies].sort(),
    limits: Object.fromEntries(
      LIMIT_NAMES.map((name: LimitName) => [
        name,
        { value: limits[name], source: account.limit_overrides[name] === undefined ? 'tier' : 'override' },
      ]),
    ),
    usage: wallets
      .filter((wallet) => applies && kyc.limited_currencies.has(wallet.currency))
      .sort((a, b) => a.currency.localeCompare(b.currency))
      .map((wallet) => {
        const usage = currentUsage(wallet, now_ms);
        // A debit's room is what today's debits and the open holds leave (as the guard counts it).
        const debit_room = withOpenHolds(usage, wallet);
        const day_start_ms = Date.parse(usage.usage_day_start!);
        const hour_start_ms = Date.parse(usage.usage_hour_start!);
        const left = (max: number, used: number) => Math.max(0, max - used);
        return {
          currency: wallet.currency,
          day_start: iso(day_start_ms),
          day_resets_at: iso(day_start_ms + DAY_MS),
          hour_start: iso(hour_start_ms),
          hour_resets_at: iso(hour_start_ms + HOUR_MS),
          debits_today: usage.debits_today_minor,
          transfers_out_today: usage.transfers_out_today_minor,
          withdrawals_today: usage.withdrawals_today_minor,
          transfers_out_this_hour: usage.transfers_out_this_hour,
          held: wallet.held_minor,
          remaining: {
            daily_debits_max_minor: left(limits.daily_debits_max_minor, debit_room.debits_today_minor),
            daily_transfers_out_max_minor: left(limits.daily_transfers_out_max_minor, usage.transfers_out_today_minor),
            daily_withdrawals_max_minor: left(limits.daily_withdrawals_max_minor, usage.withdrawals_today_minor),
            transfers_out_per_hour_max: left(limits.transfers_out_per_hour_max, usage.transfers_out_this_hour),
            balance_max_minor: left(limits.balance_max_minor, wallet.balance_minor),
          },
        };
      }),
  };
}
export type LimitsView = ReturnType<typeof limitsView>;

const limitSchema = viewPart({
  value: Joi.alternatives(Joi.number().integer(), Joi.boolean()),
  source: Joi.string().valid('tier', 'override'),
});

export const limitsViewSchema = viewSchema('AccountLimits', {
  account_id: Joi.string(),
  kyc_tier: Joi.number().integer(),
  limits_apply: Joi.boolean().description('False for merchants and where KYC limits are off'),
  limited_currencies: Joi.array().items(Joi.string()),
  limits: viewPart(Object.fromEntries(LIMIT_NAMES.map((name) => [name, limitSchema]))),
  usage: Joi.array().items(
    viewPart({
      currency: Joi.string(),
      day_start: timestampSchema,
      day_resets_at: timestampSchema,
      hour_start: timestampSchema,
      hour_resets_at: timestampSchema,
      debits_today: minorSchema,
      transfers_out_today: minorSchema,
      withdrawals_today: minorSchema,
      transfers_out_this_hour: Joi.number().integer(),
      held: minorSchema.description('Open holds: they count against the daily debits as if debited today'),
      remaining: viewPart({
        daily_debits_max_minor: minorSchema,
        daily_transfers_out_max_minor: minorSchema,
        daily_withdrawals_max_minor: minorSchema,
        transfers_out_per_hour_max: Joi.number().integer(),
        balance_max_minor: minorSchema,
      }),
    }),
  ),
} satisfies ViewKeys<LimitsView>);
