import { describe, expect, it } from 'vitest';
import { basisPointsOf, merchantFee } from '../../src/merchants/fees.js';
import { attributeRefund, takeBackOf } from '../../src/merchants/revenue-shares.js';

// Merchant fee arithmetic (issue 11): integer minor units, fee rounded half up, at least the
// minimum, never more than the amount (never a negative net).
describe('fees', () => {
  it('rounds a basis-point share half up, exactly, up to the largest amounts', () => {
    expect(basisPointsOf(1, 5_000)).toBe(1); // 0.5 -> 1
    expect(basisPointsOf(3, 5_000)).toBe(2); // 1.5 -> 2
    expect(basisPointsOf(149, 100)).toBe(1); // 1.49 -> 1
    expect(basisPointsOf(150, 100)).toBe(2); // 1.5 -> 2
    expect(basisPointsOf(999, 250)).toBe(25); // 24.975 -> 25
    expect(basisPointsOf(10_001, 250)).toBe(250); // 250.025 -> 250
    expect(basisPointsOf(0, 9_999)).toBe(0);
    // 10^12 x 9,999 passes 2^53: still exact.
    expect(basisPointsOf(1e12, 9_999)).toBe(999_900_000_000);
    expect(basisPointsOf(999_999_999_999, 1)).toBe(100_000_000); // 99,999,999.9999 -> 100,000,000
  });

  it('takes at least the minimum fee and never more than the amount', () => {
    expect(merchantFee(10_000, { fee_bps: 250, fee_min_minor: 30 })).toEqual({ fee_minor: 250, net_minor: 9_750 });
    expect(merchantFee(1_000, { fee_bps: 250, fee_min_minor: 30 })).toEqual({ fee_minor: 30, net_minor: 970 });
    expect(merchantFee(20, { fee_bps: 250, fee_min_minor: 30 })).toEqual({ fee_minor: 20, net_minor: 0 });
    expect(merchantFee(1, { fee_bps: 0, fee_min_minor: 0 })).toEqual({ fee_minor: 0, net_minor: 1 });
    expect(merchantFee(7, { fee_bps: 10_000, fee_min_minor: 0 })).toEqual({ fee_minor: 7, net_minor: 0 });
    for (let amount = 1; amount < 2_000; amount += 7) {
      const { fee_minor, net_minor } = merchantFee(amount, { fee_bps: 333, fee_min_minor: 5 });
      expect(fee_minor + net_minor).toBe(amount);
      expect(net_minor).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(fee_minor)).toBe(true);
    }
  });
});

describe('revenue-share take-backs', () => {
  const line = { merchant_id: 'm', merchant_share_minor: 333, total_minor: 1_000, refunded_minor: 0 };

  it('gives back the whole share, no more and no less, however a line is refunded in parts', () => {
    for (const parts of [[1_000], [500, 500], [1, 998, 1], [333, 333, 334], Array(10).fill(100), Array(1_000).fill(1)]) {
      let refunded_minor = 0;
      let given_back = 0;
      for (const part of parts) {
        const back = takeBackOf({ ...line, refunded_minor }, part);
        expect(back).toBeGreaterThanOrEqual(0);
        given_back += back;
        refunded_minor += part;
      }
      expect(given_back).toBe(333);
    }
  });

  it('gives back in proportion, rounded half up on the running total', () => {
    expect(takeBackOf(line, 500)).toBe(167); // 166.5 -> 167
    expect(takeBackOf({ ...line, refunded_minor: 500 }, 500)).toBe(166);
    expect(takeBackOf({ ...line, merchant_id: null }, 500)).toBe(0);
  });

  it('spreads an amount over lines in proportion to what is left of each, summing exactly', () => {
    expect(attributeRefund([600, 400], 500)).toEqual([300, 200]);
    expect(attributeRefund([1, 1, 1], 2)).toEqual([1, 1, 0]);
    expect(attributeRefund([700, 0, 300], 1_000)).toEqual([700, 0, 300]);
    for (const amount of [1, 17, 333, 999]) {
      const parts = attributeRefund([333, 333, 334], amount);
      expect(parts.reduce((sum, part) => sum + part, 0)).toBe(amount);
      for (const [index, part] of parts.entries()) expect(part).toBeLessThanOrEqual([333, 333, 334][index]!);
    }
  });
});
