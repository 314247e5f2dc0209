import { DomainError, invariant } from '../domain/errors.js';

/**
 * One leg of a ledger transaction: a signed amount on an account's balance in one currency
 * (positive raises the balance, negative lowers it).
 */
export interface Posting {
  account_id: string;
  currency: string;
  amount_minor: number;
  /** A credit may open the player's wallet in this currency (a grant, a top-up); otherwise the wallet must exist. */
  opens_wallet?: boolean;
}

/** Named system accounts: sources and sinks of money. Only they may create or destroy credits. */
export const SYSTEM_ACCOUNTS = ['@psp', '@revenue', '@bonus', '@sellers', '@chargebacks', '@payouts_pending', '@payouts'] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];

export function isSystemAccount(account_id: string): boolean {
  return account_id.startsWith('@');
}

/** A ledger transaction must balance per currency and move whole, non-zero, safe amounts. */
export function assertBalanced(postings: readonly Posting[]): void {
  invariant(postings.length >= 2, `a ledger transaction needs at least two postings, got ${postings.length}`);
  const totals = new Map<string, number>();
  for (const posting of postings) {
    invariant(
      Number.isSafeInteger(posting.amount_minor) && posting.amount_minor !== 0,
      `posting amount ${posting.amount_minor} is not a non-zero safe integer`,
    );
    totals.set(posting.currency, (totals.get(posting.currency) ?? 0) + posting.amount_minor);
  }
  for (const [currency, total] of totals) invariant(total === 0, `postings in ${currency} sum to ${total}, not 0`);
}

/** Money moving from one account to another in one currency. */
export function movement(from: string, to: string, currency: string, amount_minor: number, opens_wallet = false): Posting[] {
  invariant(from !== to, `a movement needs two different accounts, got ${from} twice`);
  return [
    { account_id: from, currency, amount_minor: -amount_minor },
    { account_id: to, currency, amount_minor, opens_wallet },
  ];
}

export function insufficientFunds(account_id: string, currency: string, available_minor: number, requested_minor: number): DomainError {
  return new DomainError(
    'insufficient_funds',
    `wallet ${account_id}/${currency} has ${available_minor} available, ${requested_minor} needed`,
    {
      available: available_minor,
    },
  );
}
