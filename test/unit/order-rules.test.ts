import { describe, expect, it } from 'vitest';
import { DomainError, InvariantViolation } from '../../src/domain/errors.js';
import type { Item } from '../../src/shop/catalog/item.js';
import { planRefund, priceOrder, type RefundRules } from '../../src/shop/orders/pricing.js';

// The pure order rules (issue 8, items 6 and 7), for the bounds the API tests cannot reach with
// the default configuration.

const item = (id: string, fields: Partial<Item> = {}): Item => ({
  id,
  name: id,
  kind: 'skin',
  price_minor: 100,
  currency: 'EUR',
  active: true,
  refundable: true,
  grants: null,
  merchant: null,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  ...fields,
});

function refusal(run: () => unknown): { code: string; detail: string } | string {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (error instanceof DomainError) return { code: error.code, detail: error.detail };
    return (error as Error).name;
  }
}

describe('priceOrder', () => {
  it('when a pack grant is over the wallet maximum (configured below the amount maximum), then validation_error', () => {
    const catalog = new Map([['gems', item('gems', { kind: 'currency_pack', grants: { currency: 'GEMS', amount_minor: 600 } })]]);
    const limits = { amount_max_minor: 1e12, balance_max_minor: 1_000 };
    expect(refusal(() => priceOrder([{ item_id: 'gems', quantity: 1 }], catalog, limits))).toBe('accepted');
    expect(refusal(() => priceOrder([{ item_id: 'gems', quantity: 2 }], catalog, limits))).toEqual({
      code: 'validation_error',
      detail: 'the currency packs of this order grant more GEMS than the maximum of 1000',
    });
  });

  it('when grants and prices times quantities leave the safe integers, then validation_error, not a wrong total', () => {
    const catalog = new Map([
      ['hoard', item('hoard', { kind: 'currency_pack', price_minor: 1, grants: { currency: 'GEMS', amount_minor: 1e12 } })],
      ['castle', item('castle', { price_minor: 1e12 })],
    ]);
    const limits = { amount_max_minor: Number.MAX_SAFE_INTEGER, balance_max_minor: Number.MAX_SAFE_INTEGER };
    expect(refusal(() => priceOrder([{ item_id: 'hoard', quantity: 100_000 }], catalog, limits))).toMatchObject({
      code: 'validation_error',
    });
    expect(refusal(() => priceOrder([{ item_id: 'castle', quantity: 100_000 }], catalog, limits))).toMatchObject({
      code: 'validation_error',
    });
  });
});

describe('planRefund', () => {
  const order = {
    id: 'order-1',
    status: 'COMPLETED',
    completed_at: '2026-01-01T00:00:00.000Z',
    total_minor: 150,
    refunded_minor: 0,
    lines: [
      { ...line('skin', 'skin', true), line_no: 1 },
      { ...line('potion', 'consumable', true), line_no: 2 },
    ],
  };
  const rules = (fields: Partial<RefundRules>): RefundRules => ({
    caller: 'support',
    override_policy: false,
    owner_window_days: 14,
    now_ms: Date.parse('2026-01-02T00:00:00.000Z'),
    ...fields,
  });

  it('refuses the policy to everyone unless support overrides it; an owner can never override', () => {
    const potion = { lines: [{ item_id: 'potion', quantity: 1 }] };
    expect(refusal(() => planRefund(order, potion, rules({})))).toMatchObject({ code: 'not_refundable' });
    expect(refusal(() => planRefund(order, potion, rules({ caller: 'owner' })))).toMatchObject({ code: 'not_refundable' });
    expect(planRefund(order, potion, rules({ override_policy: true })).amount_minor).toBe(50);
    expect(refusal(() => planRefund(order, potion, rules({ caller: 'owner', override_policy: true })))).toBe(InvariantViolation.name);
  });

  it('checks the order state and the owner window before the lines', () => {
    const skin = { lines: [{ item_id: 'skin', quantity: 1 }] };
    expect(refusal(() => planRefund({ ...order, status: 'CANCELLED' }, skin, rules({})))).toMatchObject({ code: 'invalid_state' });
    expect(refusal(() => planRefund({ ...order, status: 'REFUNDED' }, skin, rules({})))).toMatchObject({
      code: 'refund_exceeds_remaining',
    });
    const late = rules({ caller: 'owner', now_ms: Date.parse('2026-01-16T00:00:01.000Z') });
    expect(refusal(() => planRefund(order, skin, late))).toMatchObject({ code: 'not_refundable' });
    expect(planRefund(order, skin, rules({ now_ms: late.now_ms })).amount_minor).toBe(100);
  });
});

function line(item_id: string, kind: Item['kind'], refundable: boolean) {
  const unit_price_minor = kind === 'consumable' ? 50 : 100;
  return {
    item_id,
    item_name: item_id,
    kind,
    quantity: 1,
    refunded_quantity: 0,
    refunded_minor: 0,
    unit_price_minor,
    refundable,
    grants: null,
    merchant_id: null,
    merchant_share_minor: 0,
  };
}
