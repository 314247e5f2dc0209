import { invariant } from '../domain/errors.js';

/**
 * Merchant fee arithmetic, pure and in integer minor units. A basis-point share of an amount is
 * rounded half up: amount × bps / 10,000, with .5 going up (computed in BigInt: amount × bps may
 * pass 2^53). The fee of a payment is that share of the amount, at least the plan's minimum, and
 * never more than the amount itself: the merchant's net is never negative.
 */

const BPS_PER_WHOLE = 10_000n;

export function basisPointsOf(amount_minor: number, bps: number): number {
  invariant(Number.isSafeInteger(amount_minor) && amount_minor >= 0, `amount ${amount_minor} is not a non-negative safe integer`);
  invariant(Number.isInteger(bps) && bps >= 0 && bps <= 10_000, `${bps} is not a basis-point rate`);
  return Number((BigInt(amount_minor) * BigInt(bps) * 2n + BPS_PER_WHOLE) / (2n * BPS_PER_WHOLE));
}

export interface FeePlan {
  fee_bps: number;
  fee_min_minor: number;
}

export interface FeeSplit {
  fee_minor: number;
  /** What the merchant receives: amount − fee, never below zero. */
  net_minor: number;
}

export function merchantFee(amount_minor: number, plan: FeePlan): FeeSplit {
  const fee_minor = Math.min(amount_minor, Math.max(plan.fee_min_minor, basisPointsOf(amount_minor, plan.fee_bps)));
  return { fee_minor, net_minor: amount_minor - fee_minor };
}
