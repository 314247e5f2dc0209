import { DomainError, invariant } from '../domain/errors.js';
import type { TransactionType, WalletUsage } from '../ledger/ledger-records.js';
import type { KycTier, LimitName, LimitOverrides, TierLimits } from './kyc-tiers.js';

/**
 * KYC tier limits and velocity checks, pure: no SQL, no clock of its own (`now_ms` is the batch's
 * transaction time). Usage is counted per wallet (account and currency) in the current UTC day
 * (sums, reset at 00:00 UTC) and the current UTC hour (counts, reset on the hour), on the wallet
 * row itself: the batch that moves the wallet reads and writes it, so concurrent operations on
 * one account, from any pod, are serialized by the account's own rows.
 */

export type OutflowKind = 'debit' | 'transfer' | 'withdrawal';

interface OutflowRule {
  kind: OutflowKind;
  /** False for money already committed to a third party (a seller order): counted, never refused. */
  refusable: boolean;
}

/** What each kind of money leaving a player's wallet counts against; absent: never limited (refunds, reversals, clawbacks). */
const OUTFLOWS: Partial<Record<TransactionType, OutflowRule>> = {
  debit: { kind: 'debit', refusable: true },
  purchase: { kind: 'debit', refusable: true },
  hold_capture: { kind: 'debit', refusable: true },
  merchant_payment: { kind: 'debit', refusable: true },
  seller_purchase: { kind: 'debit', refusable: false },
  transfer: { kind: 'transfer', refusable: true },
  withdrawal: { kind: 'withdrawal', refusable: true },
};

/** Money coming in that the tier's maximum balance applies to; refunds and returns of the player's own money are not. */
const LIMITED_INFLOWS: ReadonlySet<TransactionType> = new Set<TransactionType>(['credit', 'transfer', 'topup']);

export function outflowRule(type: TransactionType): OutflowRule | undefined {
  return OUTFLOWS[type];
}

/** Money leaving by the account's own doing: refused for a frozen account (a seller capture is already owed). */
export function isVoluntaryOutflow(type: TransactionType): boolean {
  return OUTFLOWS[type]?.refusable === true;
}

export function isLimitedInflow(type: TransactionType): boolean {
  return LIMITED_INFLOWS.has(type);
}

export function effectiveLimits(tiers: Record<KycTier, TierLimits>, tier: KycTier, overrides: LimitOverrides): TierLimits {
  return { ...tiers[tier], ...overrides };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface Windows {
  day_start_ms: number;
  hour_start_ms: number;
}

export function windowsAt(now_ms: number): Windows {
  return { day_start_ms: Math.floor(now_ms / DAY_MS) * DAY_MS, hour_start_ms: Math.floor(now_ms / HOUR_MS) * HOUR_MS };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The usage as of `now_ms`: sums of an earlier day and counts of an earlier hour start again from zero. */
export function currentUsage(usage: WalletUsage, now_ms: number): WalletUsage {
  const { day_start_ms, hour_start_ms } = windowsAt(now_ms);
  const same_day = usage.usage_day_start !== null && Date.parse(usage.usage_day_start) === day_start_ms;
  const same_hour = usage.usage_hour_start !== null && Date.parse(usage.usage_hour_start) === hour_start_ms;
  if (same_day && same_hour) return usage;
  return {
    usage_day_start: iso(day_start_ms),
    debits_today_minor: same_day ? usage.debits_today_minor : 0,
    transfers_out_today_minor: same_day ? usage.transfers_out_today_minor : 0,
    withdrawals_today_minor: same_day ? usage.withdrawals_today_minor : 0,
    usage_hour_start: iso(hour_start_ms),
    transfers_out_this_hour: same_hour ? usage.transfers_out_this_hour : 0,
    // A flag names its window: flags of past windows no longer hold a new breach back.
    flagged_limits: usage.flagged_limits.filter(
      (flag) => flag.endsWith(`@${iso(day_start_ms)}`) || flag.endsWith(`@${iso(hour_start_ms)}`),
    ),
  };
}

/** A limit an operation would break: what SPEC §10's 422 limit_exceeded carries, and what an AML flag records. */
export interface LimitBreach {
  limit: LimitName;
  value: number | boolean;
  /** What is still allowed before the limit (0 when nothing is). */
  remaining: number;
  /** When the window of a daily or hourly limit starts again; null for limits per operation or balance. */
  resets_at: string | null;
  /** A daily sum or an hourly count: a velocity breach, recorded for AML review when refused. */
  velocity: boolean;
  /** Used in the window before this operation (sums in minor units, counts in operations). */
  used: number;
  window_start: string | null;
}

const DAILY: Record<OutflowKind, { limit: LimitName; used: (usage: WalletUsage) => number }> = {
  debit: { limit: 'daily_debits_max_minor', used: (usage) => usage.debits_today_minor },
  transfer: { limit: 'daily_transfers_out_max_minor', used: (usage) => usage.transfers_out_today_minor },
  withdrawal: { limit: 'daily_withdrawals_max_minor', used: (usage) => usage.withdrawals_today_minor },
};

const SINGLE: Record<OutflowKind, LimitName> = {
  debit: 'debit_max_minor',
  transfer: 'transfer_max_minor',
  withdrawal: 'withdrawal_max_minor',
};

/** A tier (or override) that does not let the account cash out. */
export const WITHDRAWALS_REFUSED: LimitBreach = {
  limit: 'withdrawals_allowed',
  value: false,
  remaining: 0,
  resets_at: null,
  velocity: false,
  used: 0,
  window_start: null,
};

/** The first limit the outflow of `amount_minor` would break, on usage already made current; undefined when none. */
export function outflowBreach(limits: TierLimits, usage: WalletUsage, kind: OutflowKind, amount_minor: number): LimitBreach | undefined {
  const day_start = usage.usage_day_start;
  invariant(day_start !== null && usage.usage_hour_start !== null, 'usage must be made current before it is checked');
  if (kind === 'withdrawal' && !limits.withdrawals_allowed) return WITHDRAWALS_REFUSED;
  const daily = DAILY[kind];
  const daily_max = limits[daily.limit] as number;
  const used_today = daily.used(usage);
  const daily_room = Math.max(0, daily_max - used_today);
  const single = SINGLE[kind];
  const single_max = limits[single] as number;
  if (amount_minor > single_max) {
    // What one operation may still move: the single limit, or less when today's room is smaller.
    const remaining = Math.min(single_max, daily_room);
    return { limit: single, value: single_max, remaining, resets_at: null, velocity: false, used: 0, window_start: null };
  }
  const day_end = iso(Date.parse(day_start) + DAY_MS);
  if (used_today + amount_minor > daily_max) {
    return {
      limit: daily.limit,
      value: daily_max,
      remaining: daily_room,
      resets_at: day_end,
      velocity: true,
      used: used_today,
      window_start: day_start,
    };
  }
  if (kind === 'transfer' && usage.transfers_out_this_hour + 1 > limits.transfers_out_per_hour_max) {
    const used = usage.transfers_out_this_hour;
    return {
      limit: 'transfers_out_per_hour_max',
      value: limits.transfers_out_per_hour_max,
      remaining: Math.max(0, limits.transfers_out_per_hour_max - used),
      resets_at: iso(Date.parse(usage.usage_hour_start) + HOUR_MS),
      velocity: true,
      used,
      window_start: usage.usage_hour_start,
    };
  }
  return undefined;
}

/** Usage after an outflow of `amount_minor`, on usage already made current. */
export function chargeOutflow(usage: WalletUsage, kind: OutflowKind, amount_minor: number): WalletUsage {
  if (kind === 'debit') return { ...usage, debits_today_minor: usage.debits_today_minor + amount_minor };
  if (kind === 'withdrawal') return { ...usage, withdrawals_today_minor: usage.withdrawals_today_minor + amount_minor };
  return {
    ...usage,
    transfers_out_today_minor: usage.transfers_out_today_minor + amount_minor,
    transfers_out_this_hour: usage.transfers_out_this_hour + 1,
  };
}

/** Money coming back from an outflow that never happened (a failed payout): the day's sum it no longer counts in. */
const UNDONE_OUTFLOWS: Partial<Record<TransactionType, 'withdrawals_today_minor'>> = { withdrawal_return: 'withdrawals_today_minor' };

export function undoesOutflow(type: TransactionType): boolean {
  return UNDONE_OUTFLOWS[type] !== undefined;
}

/**
 * Usage after the outflow that money of `type` undoes, made at `made_at_ms`, on usage already made
 * current: it no longer counts in today's sum when it was counted in it (one made on an earlier day
 * counted in that day's, which is over).
 */
export function undoOutflow(usage: WalletUsage, type: TransactionType, amount_minor: number, made_at_ms: number): WalletUsage {
  invariant(usage.usage_day_start !== null, 'usage must be made current before an outflow is undone');
  const field = UNDONE_OUTFLOWS[type];
  if (field === undefined || made_at_ms < Date.parse(usage.usage_day_start)) return usage;
  return { ...usage, [field]: Math.max(0, usage[field] - amount_minor) };
}

/** The tier's maximum balance, for money coming in: the breach when `balance_after_minor` would exceed it. */
export function balanceBreach(limits: TierLimits, balance_before_minor: number, balance_after_minor: number): LimitBreach | undefined {
  if (balance_after_minor <= limits.balance_max_minor) return undefined;
  const remaining = Math.max(0, limits.balance_max_minor - balance_before_minor);
  return {
    limit: 'balance_max_minor',
    value: limits.balance_max_minor,
    remaining,
    resets_at: null,
    velocity: false,
    used: balance_before_minor,
    window_start: null,
  };
}

/** The key of a breach in a wallet's flagged limits: one AML flag per limit and window. */
export function flagKey(breach: LimitBreach): string {
  return `${breach.limit}@${breach.window_start}`;
}

export function limitExceeded(breach: LimitBreach, currency: string, requested_minor: number): DomainError {
  const { limit, value, remaining, resets_at } = breach;
  const window = resets_at === null ? '' : ` until ${resets_at}`;
  return new DomainError(
    'limit_exceeded',
    `${limit} (${String(value)}) refuses ${requested_minor} ${currency}; ${remaining} remains${window}`,
    {
      limit,
      value,
      remaining,
      resets_at,
      currency,
    },
  );
}
