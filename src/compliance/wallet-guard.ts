import { randomUUID } from 'node:crypto';
import { RecordedRefusal } from '../batch/operation.js';
import type { Unit } from '../batch/unit.js';
import { DomainError } from '../domain/errors.js';
import {
  NO_USAGE,
  walletKey,
  type AccountRecord,
  type TransactionType,
  type WalletRecord,
  type WalletUsage,
} from '../ledger/ledger-records.js';
import type { KycSettings } from '../platform/wallet-config.js';
import { requireActive, requireOpen } from './account-status.js';
import { REVIEW_FLAGS } from './compliance-records.js';
import type { TierLimits } from './kyc-tiers.js';
import {
  balanceBreach,
  chargeOutflow,
  currentUsage,
  effectiveLimits,
  flagKey,
  isLimitedInflow,
  isVoluntaryOutflow,
  limitExceeded,
  outflowBreach,
  outflowRule,
  undoesOutflow,
  undoOutflow,
  WITHDRAWALS_REFUSED,
  type LimitBreach,
} from './kyc-limits.js';

/**
 * Account status and KYC limits where the ledger moves a wallet (src/ledger/posting.ts) or holds
 * money on it (src/ledger/holds.ts): every operation that moves money goes through one of the
 * two, so none can forget them. The rules themselves are pure (account-status.ts, kyc-limits.ts);
 * this applies them to the batch's state.
 */

/** The account's limits, or undefined when none apply: limits off, or a merchant. */
function accountLimitsOf(account: AccountRecord, kyc: KycSettings): TierLimits | undefined {
  if (!kyc.enabled || account.kind !== 'player') return undefined;
  return effectiveLimits(kyc.tiers, account.kyc_tier, account.limit_overrides);
}

/** The limits of a wallet, or undefined when none apply: limits off, a merchant, or a currency that is not limited. */
function limitsOf(account: AccountRecord, currency: string, kyc: KycSettings): TierLimits | undefined {
  return kyc.limited_currencies.has(currency) ? accountLimitsOf(account, kyc) : undefined;
}

/** Whether money may leave the account at all: never a closed one, and a frozen one only when it is not its own doing. */
export function requireOutflowAllowed(account: AccountRecord, type: TransactionType): void {
  if (isVoluntaryOutflow(type)) requireActive(account);
  else requireOpen(account);
}

/**
 * The KYC limits on money leaving a wallet: refuses with limit_exceeded (a velocity breach also
 * leaves an AML review flag), or returns the wallet's usage counting this outflow; undefined
 * when the outflow is not limited.
 */
export function chargeLimits(
  unit: Unit,
  account: AccountRecord,
  wallet: WalletRecord,
  type: TransactionType,
  amount_minor: number,
  kyc: KycSettings,
): WalletUsage | undefined {
  const rule = outflowRule(type);
  if (!rule) return undefined;
  const limits = limitsOf(account, wallet.currency, kyc);
  if (!limits) {
    // Cashing out is the account's permission whatever the currency (game currencies' amounts are not limited).
    if (rule.kind === 'withdrawal' && rule.refusable && accountLimitsOf(account, kyc)?.withdrawals_allowed === false) {
      throw refusal(account, wallet.currency, type, amount_minor, WITHDRAWALS_REFUSED);
    }
    return undefined;
  }
  const usage = currentUsage(wallet, unit.now_ms);
  // A debit's room is what today's debits and the open holds leave: a hold set it aside when it was
  // authorized, so its capture is never refused for a debit made since. (A capture's own hold is
  // released before its money moves: it is not counted twice.)
  const room = rule.kind === 'debit' ? withOpenHolds(usage, wallet) : usage;
  const breach = rule.refusable ? outflowBreach(limits, room, rule.kind, amount_minor) : undefined;
  if (breach) throw refusal(account, wallet.currency, type, amount_minor, breach);
  return chargeOutflow(usage, rule.kind, amount_minor);
}

/**
 * Money coming back from an outflow that never happened (`made_at`, a failed payout's withdrawal):
 * the wallet's usage without it, or undefined when the wallet's limits do not count it.
 */
export function returnLimits(
  unit: Unit,
  account: AccountRecord,
  wallet: WalletRecord,
  type: TransactionType,
  amount_minor: number,
  made_at: string,
  kyc: KycSettings,
): WalletUsage | undefined {
  if (!undoesOutflow(type) || !limitsOf(account, wallet.currency, kyc)) return undefined;
  return undoOutflow(currentUsage(wallet, unit.now_ms), type, amount_minor, Date.parse(made_at));
}

/** Usage for a debit limit's check: the wallet's open holds as if already debited today. */
export function withOpenHolds(usage: WalletUsage, wallet: WalletRecord): WalletUsage {
  return { ...usage, debits_today_minor: usage.debits_today_minor + wallet.held_minor };
}

/**
 * Money coming in: never into a closed account; within the tier's maximum balance. A recipient
 * other than the caller's own account (`own` false) is never described: its balance and limits
 * are not the sender's business.
 */
export function guardInflow(
  account: AccountRecord,
  wallet: WalletRecord,
  type: TransactionType,
  balance_after_minor: number,
  own: boolean,
  kyc: KycSettings,
): void {
  requireOpen(account, own);
  if (!isLimitedInflow(type)) return;
  const limits = limitsOf(account, wallet.currency, kyc);
  const breach = limits && balanceBreach(limits, wallet.balance_minor, balance_after_minor);
  if (!breach) return;
  if (!own) throw new DomainError('invalid_state', 'the recipient cannot receive this amount');
  throw limitExceeded(breach, wallet.currency, balance_after_minor - wallet.balance_minor);
}

/**
 * Authorizing a hold: the account must be active, and the amount within what it may still spend
 * in one debit and today, less what its open holds already set aside (each is counted when it is
 * captured; debits count them too, so the room a hold set aside stays its own).
 */
export function guardHold(unit: Unit, account: AccountRecord, wallet: WalletRecord, amount_minor: number, kyc: KycSettings): void {
  requireActive(account);
  const limits = limitsOf(account, wallet.currency, kyc);
  if (!limits) return;
  const breach = outflowBreach(limits, withOpenHolds(currentUsage(wallet, unit.now_ms), wallet), 'debit', amount_minor);
  if (breach) throw refusal(account, wallet.currency, 'hold', amount_minor, breach);
}

function refusal(account: AccountRecord, currency: string, operation: string, amount_minor: number, breach: LimitBreach): DomainError {
  const error = limitExceeded(breach, currency, amount_minor);
  if (!breach.velocity) return error;
  return new RecordedRefusal(error, (unit) => flagBreach(unit, account, currency, operation, amount_minor, breach));
}

/** One AML review flag per wallet, limit and window: breaking the same limit again in the window adds nothing. */
function flagBreach(
  unit: Unit,
  account: AccountRecord,
  currency: string,
  operation: string,
  amount_minor: number,
  breach: LimitBreach,
): void {
  const key = walletKey(account.id, currency);
  const usage = currentUsage(unit.wallets.get(key)!, unit.now_ms);
  const flag = flagKey(breach);
  if (usage.flagged_limits.includes(flag)) return;
  unit.wallets.update(key, { ...usageOf(usage), flagged_limits: [...usage.flagged_limits, flag] });
  unit.table(REVIEW_FLAGS).insert({
    id: randomUUID(),
    account_id: account.id,
    currency,
    limit_name: breach.limit,
    limit_value: breach.value as number,
    used: breach.used,
    attempted: amount_minor,
    operation,
    window_start: breach.window_start!,
    status: 'open',
    resolution: null,
    resolved_by: null,
    resolved_at: null,
    region: account.region,
    created_at: unit.now,
  });
}

/** Only the usage fields of a wallet (a wallet record is also usage). */
export function usageOf(usage: WalletUsage): WalletUsage {
  return Object.fromEntries(USAGE_FIELDS.map((field) => [field, usage[field]])) as unknown as WalletUsage;
}

const USAGE_FIELDS = Object.keys(NO_USAGE) as Array<keyof WalletUsage>;
