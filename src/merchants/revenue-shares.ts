import { invariant } from '../domain/errors.js';
import type { Posting } from '../ledger/postings.js';
import { basisPointsOf } from './fees.js';

/**
 * Revenue shares of catalog items sold for a merchant, pure. A line's share is its amount's
 * basis points, rounded half up (fees.ts), snapshotted with the order. Refunds take shares back in
 * proportion to the money refunded against each line, cumulatively: after refunding r of a line's
 * total t, the merchant has given back round_half_up(share × r / t) in all, so partial refunds
 * never add up to more (or less) than the share once the line is fully refunded.
 */

export interface ShareLine {
  merchant_id: string | null;
  /** The merchant's share of the whole line. */
  merchant_share_minor: number;
  /** The line's amount: unit price × quantity. */
  total_minor: number;
  /** Money refunded against the line so far. */
  refunded_minor: number;
}

export function lineShare(amount_minor: number, revenue_share_bps: number): number {
  return basisPointsOf(amount_minor, revenue_share_bps);
}

/** round_half_up(share × refunded / total): what a merchant has given back after `refunded_minor` of the line was refunded. */
function givenBack(line: ShareLine, refunded_minor: number): number {
  invariant(
    refunded_minor >= 0 && refunded_minor <= line.total_minor,
    `a line of ${line.total_minor} cannot have ${refunded_minor} refunded`,
  );
  const total = BigInt(line.total_minor);
  return Number((BigInt(line.merchant_share_minor) * BigInt(refunded_minor) * 2n + total) / (2n * total));
}

/** What the merchant gives back when `add_minor` more of the line is refunded. */
export function takeBackOf(line: ShareLine, add_minor: number): number {
  if (line.merchant_id === null || line.merchant_share_minor === 0) return 0;
  return givenBack(line, line.refunded_minor + add_minor) - givenBack(line, line.refunded_minor);
}

/**
 * Spreads a refund of `amount_minor` over lines in proportion to what is left to refund of each
 * (largest remainder, so the parts sum exactly to the amount and none exceeds its line's rest).
 */
export function attributeRefund(remaining_minor: readonly number[], amount_minor: number): number[] {
  const total = remaining_minor.reduce((sum, rest) => sum + rest, 0);
  invariant(amount_minor <= total, `cannot attribute ${amount_minor} over ${total} left`);
  if (amount_minor === total) return [...remaining_minor];
  const exact = remaining_minor.map((rest) => (BigInt(rest) * BigInt(amount_minor)) / BigInt(Math.max(total, 1)));
  const remainders = remaining_minor.map((rest, index) => ({
    index,
    remainder: (BigInt(rest) * BigInt(amount_minor)) % BigInt(Math.max(total, 1)),
  }));
  const parts = exact.map(Number);
  let left = amount_minor - parts.reduce((sum, part) => sum + part, 0);
  for (const { index } of remainders.sort((a, b) => (b.remainder > a.remainder ? 1 : b.remainder < a.remainder ? -1 : a.index - b.index))) {
    if (left === 0) break;
    parts[index]! += 1;
    left -= 1;
  }
  return parts;
}

/** Postings paying merchants their shares out of what @revenue received, summed per merchant. */
export function sharePostings(
  currency: string,
  shares: ReadonlyArray<{ merchant_id: string | null; amount_minor: number }>,
  direction: 1 | -1,
): Posting[] {
  const by_merchant = new Map<string, number>();
  for (const { merchant_id, amount_minor } of shares) {
    if (merchant_id !== null && amount_minor > 0) by_merchant.set(merchant_id, (by_merchant.get(merchant_id) ?? 0) + amount_minor);
  }
  const total = [...by_merchant.values()].reduce((sum, amount) => sum + amount, 0);
  if (total === 0) return [];
  return [
    { account_id: '@revenue', currency, amount_minor: -direction * total },
    ...[...by_merchant].map(([account_id, amount]) => ({ account_id, currency, amount_minor: direction * amount })),
  ];
}
