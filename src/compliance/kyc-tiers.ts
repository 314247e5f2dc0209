/**
 * What an account of a KYC tier may do, per currency (in that currency's minor units: the ledger
 * never converts between currencies). Sums are per UTC day, counts per UTC hour.
 */
export interface TierLimits {
  /** The wallet's balance at most; credits and incoming transfers beyond it are refused. */
  balance_max_minor: number;
  /** One debit, order, hold capture or merchant payment at most. */
  debit_max_minor: number;
  transfer_max_minor: number;
  withdrawal_max_minor: number;
  daily_debits_max_minor: number;
  daily_transfers_out_max_minor: number;
  daily_withdrawals_max_minor: number;
  transfers_out_per_hour_max: number;
  withdrawals_allowed: boolean;
}

export type LimitName = keyof TierLimits;
export type KycTier = 0 | 1 | 2;
export const KYC_TIERS: readonly KycTier[] = [0, 1, 2];

/** The limits an account overrides (a VIP), by name; the rest come from its tier. */
export type LimitOverrides = Partial<TierLimits>;

export const LIMIT_NAMES: readonly LimitName[] = [
  'balance_max_minor',
  'debit_max_minor',
  'transfer_max_minor',
  'withdrawal_max_minor',
  'daily_debits_max_minor',
  'daily_transfers_out_max_minor',
  'daily_withdrawals_max_minor',
  'transfers_out_per_hour_max',
  'withdrawals_allowed',
];

/** Unverified accounts spend and send a little and cannot cash out; verified ones more; fully verified ones a lot. */
export const DEFAULT_TIER_LIMITS: Record<KycTier, TierLimits> = {
  0: {
    balance_max_minor: 100_000,
    debit_max_minor: 50_000,
    transfer_max_minor: 20_000,
    withdrawal_max_minor: 0,
    daily_debits_max_minor: 100_000,
    daily_transfers_out_max_minor: 50_000,
    daily_withdrawals_max_minor: 0,
    transfers_out_per_hour_max: 10,
    withdrawals_allowed: false,
  },
  1: {
    balance_max_minor: 1_000_000,
    debit_max_minor: 500_000,
    transfer_max_minor: 200_000,
    withdrawal_max_minor: 200_000,
    daily_debits_max_minor: 1_000_000,
    daily_transfers_out_max_minor: 500_000,
    daily_withdrawals_max_minor: 500_000,
    transfers_out_per_hour_max: 30,
    withdrawals_allowed: true,
  },
  2: {
    balance_max_minor: 100_000_000_000,
    debit_max_minor: 10_000_000_000,
    transfer_max_minor: 10_000_000_000,
    withdrawal_max_minor: 10_000_000_000,
    daily_debits_max_minor: 100_000_000_000,
    daily_transfers_out_max_minor: 100_000_000_000,
    daily_withdrawals_max_minor: 100_000_000_000,
    transfers_out_per_hour_max: 1000,
    withdrawals_allowed: true,
  },
};
