import { DomainError, invalidState, invariant } from '../../domain/errors.js';
import type { Posting } from '../../ledger/postings.js';
import { attributeRefund, lineShare } from '../../merchants/revenue-shares.js';
import type { Item } from '../catalog/item.js';

export interface RequestedLine {
  item_id: string;
  quantity: number;
}

/** A line priced from the catalog at order time; later price changes never touch it. */
export interface PricedLine {
  line_no: number;
  item_id: string;
  item_name: string;
  kind: Item['kind'];
  quantity: number;
  unit_price_minor: number;
  refundable: boolean;
  grants: { currency: string; amount_minor: number } | null;
  /** The merchant the item is sold for, and its revenue share of the whole line (0 without a merchant). */
  merchant_id: string | null;
  merchant_share_minor: number;
}

export interface PricedOrder {
  currency: string;
  total_minor: number;
  lines: PricedLine[];
}

/** What an order may move: its total and each currency pack grant (AMOUNT_MAX_MINOR, BALANCE_MAX_MINOR). */
export interface OrderLimits {
  amount_max_minor: number;
  balance_max_minor: number;
}

/**
 * Prices an order from the catalog only: the client never sends a price. The total and what the
 * currency packs grant per currency are bounded like any amount (a grant also by the wallet
 * maximum, which no credit may exceed), so no product of prices, grants and quantities reaches a
 * posting unbounded: an order over a bound is 400, never a failed posting. Refunds take back
 * parts of these, so they stay bounded too.
 */
export function priceOrder(requested: readonly RequestedLine[], catalog: ReadonlyMap<string, Item>, limits: OrderLimits): PricedOrder {
  const lines = requested.map((line, index): PricedLine => {
    const item = catalog.get(line.item_id);
    if (!item) throw new DomainError('validation_error', `item ${line.item_id} does not exist`, { item_id: line.item_id });
    if (!item.active) throw new DomainError('validation_error', `item ${line.item_id} is not for sale`, { item_id: line.item_id });
    return {
      line_no: index + 1,
      item_id: item.id,
      item_name: item.name,
      kind: item.kind,
      quantity: line.quantity,
      unit_price_minor: item.price_minor,
      refundable: item.refundable,
      grants: item.grants,
      merchant_id: item.merchant?.merchant_id ?? null,
      merchant_share_minor: 0,
    };
  });
  const currencies = new Set(lines.map((line) => catalog.get(line.item_id)!.currency));
  if (currencies.size !== 1)
    throw new DomainError('validation_error', `an order is paid in one currency; these items cost ${[...currencies].join(', ')}`);
  // All terms are positive, so a sum that ever left the safe integers stays above any bound: one
  // check of the total refuses it, and a total within the bound was computed exactly.
  const total_minor = lines.reduce((sum, line) => sum + line.unit_price_minor * line.quantity, 0);
  if (!Number.isSafeInteger(total_minor) || total_minor > limits.amount_max_minor) {
    throw new DomainError('validation_error', `the order total exceeds the maximum amount of ${limits.amount_max_minor}`);
  }
  const grant_max_minor = Math.min(limits.amount_max_minor, limits.balance_max_minor);
  for (const [currency, granted_minor] of grantTotals(lines.map((line) => ({ line, quantity: line.quantity })))) {
    if (!Number.isSafeInteger(granted_minor) || granted_minor > grant_max_minor) {
      throw new DomainError(
        'validation_error',
        `the currency packs of this order grant more ${currency} than the maximum of ${grant_max_minor}`,
      );
    }
  }
  // Every line is within the bounded total now: its share is computed exactly.
  const shared = lines.map((line) => {
    const merchant = catalog.get(line.item_id)!.merchant;
    return merchant
      ? { ...line, merchant_share_minor: lineShare(line.unit_price_minor * line.quantity, merchant.revenue_share_bps) }
      : line;
  });
  return { currency: [...currencies][0]!, total_minor, lines: shared };
}

/** What currency packs grant per game currency, for the given quantities of their lines. */
function grantTotals(lines: ReadonlyArray<{ line: PricedLine; quantity: number }>): Map<string, number> {
  const totals = new Map<string, number>();
  for (const { line, quantity } of lines) {
    if (line.grants) totals.set(line.grants.currency, (totals.get(line.grants.currency) ?? 0) + line.grants.amount_minor * quantity);
  }
  return totals;
}

/** What the player's game currency wallets receive for the currency packs of the given quantities. */
export function grantPostings(
  account_id: string,
  lines: ReadonlyArray<{ line: PricedLine; quantity: number }>,
  direction: 1 | -1,
): Posting[] {
  return [...grantTotals(lines)].flatMap(([currency, amount]) => [
    // A grant may open the player's game-currency wallet; a claw-back needs the wallet it credited.
    { account_id, currency, amount_minor: direction * amount, opens_wallet: direction === 1 },
    { account_id: '@revenue', currency, amount_minor: -direction * amount },
  ]);
}

export interface RefundLineRequest {
  item_id: string;
  quantity: number;
}

export interface RefundPlan {
  amount_minor: number;
  /** Units refunded per line: their entitlements are revoked and pack grants clawed back. */
  lines: Array<{ line: PricedLine & { refunded_quantity: number }; quantity: number }>;
  /** The money refunded against each line (by line_no): merchants give their shares back in proportion. */
  line_amounts: Map<number, number>;
  /** True when nothing is left to refund after this refund. */
  completes_refund: boolean;
}

/** What the caller may do, decided by the use case from the caller's token alone. */
export interface RefundRules {
  /**
   * `support` (a service with refunds:write): any order, any time, money back by amount
   * (goodwill). `owner`: the player's own order, by lines or everything left, within the window.
   */
  caller: 'support' | 'owner';
  /** Support asked explicitly to refund what the items' refund policy refuses (never for owners). */
  override_policy: boolean;
  /** How long after completion an owner may refund. */
  owner_window_days: number;
  now_ms: number;
}

export interface RefundableOrder {
  id: string;
  status: string;
  completed_at: string | null;
  total_minor: number;
  refunded_minor: number;
  lines: ReadonlyArray<PricedLine & { refunded_quantity: number; refunded_minor: number }>;
}

const DAY_MS = 86_400_000;

/**
 * Decides what a refund covers. By lines: those units at their snapshotted price. By amount:
 * money only (goodwill). Either way a refund of everything left revokes every remaining unit.
 * Neither: everything left. Items that are not refundable, and consumables, are refused
 * (422 not_refundable) whoever asks, unless support overrides the policy explicitly.
 */
export function planRefund(
  order: RefundableOrder,
  request: { lines?: readonly RefundLineRequest[]; amount_minor?: number },
  rules: RefundRules,
): RefundPlan {
  invariant(rules.caller === 'support' || !rules.override_policy, 'only support may override the refund policy');
  const remaining_minor = order.total_minor - order.refunded_minor;
  invariant(remaining_minor >= 0, 'an order was refunded beyond its total');
  assertOrderRefundable(order, rules);
  const remaining_units = order.lines
    .filter((line) => line.quantity > line.refunded_quantity)
    .map((line) => ({ line, quantity: line.quantity - line.refunded_quantity }));
  if (request.lines) {
    const lines = request.lines.map((wanted) => {
      const line = order.lines.find((candidate) => candidate.item_id === wanted.item_id);
      if (!line) throw new DomainError('validation_error', `item ${wanted.item_id} is not in this order`);
      if (wanted.quantity > line.quantity - line.refunded_quantity) {
        throw new DomainError(
          'refund_exceeds_remaining',
          `${line.quantity - line.refunded_quantity} of ${line.quantity} ${wanted.item_id} are left to refund`,
        );
      }
      return { line, quantity: wanted.quantity };
    });
    assertPolicyAllows(lines, rules);
    // Units at their price, less what goodwill already gave back on their line: never more back
    // than the line has left.
    const line_amounts = new Map<number, number>();
    for (const { line, quantity } of lines) {
      const counted = line_amounts.get(line.line_no) ?? 0;
      const line_left = line.unit_price_minor * line.quantity - line.refunded_minor - counted;
      line_amounts.set(line.line_no, counted + Math.min(line.unit_price_minor * quantity, line_left));
    }
    const amount_minor = [...line_amounts.values()].reduce((sum, amount) => sum + amount, 0);
    if (amount_minor === 0)
      throw new DomainError('refund_exceeds_remaining', 'what these units cost was already given back on their lines', {
        remaining: remaining_minor,
      });
    if (amount_minor > remaining_minor)
      throw new DomainError('refund_exceeds_remaining', `${remaining_minor} is left to refund`, { remaining: remaining_minor });
    // The order's last money back: every unit left goes with it, as when everything left is asked
    // for (goodwill paid the others back already: the policy was decided then, on that money). An
    // order once ended REFUNDED with one kept.
    if (amount_minor === remaining_minor) return { amount_minor, lines: remaining_units, line_amounts, completes_refund: true };
    return { amount_minor, lines, line_amounts, completes_refund: false };
  }
  const amount_minor = request.amount_minor ?? remaining_minor;
  if (remaining_minor === 0 || amount_minor > remaining_minor) {
    throw new DomainError('refund_exceeds_remaining', `${remaining_minor} is left to refund`, { remaining: remaining_minor });
  }
  // Money back without taking the items back is a goodwill gesture for support, not self-service.
  if (rules.caller === 'owner' && amount_minor < remaining_minor) {
    throw new DomainError('not_refundable', 'a player refunds by lines, or everything that is left; partial amounts are for support');
  }
  const completes_refund = amount_minor === remaining_minor;
  // Goodwill on what is left is money back for those units: the same policy applies to them.
  assertPolicyAllows(remaining_units, rules);
  const rests = order.lines.map((line) => line.unit_price_minor * line.quantity - line.refunded_minor);
  const parts = attributeRefund(rests, amount_minor);
  const line_amounts = new Map(order.lines.map((line, index) => [line.line_no, parts[index]!]));
  return { amount_minor, lines: completes_refund ? remaining_units : [], line_amounts, completes_refund };
}

/** An order is refunded once paid and while something is left; its owner only within the window. */
function assertOrderRefundable(order: RefundableOrder, rules: RefundRules): void {
  // Nothing left is "exceeds what is left", as for ledger refunds: a refund that loses a race
  // to the last one gets the same answer whether it read 1 unit left or none.
  if (order.status === 'REFUNDED')
    throw new DomainError('refund_exceeds_remaining', `order ${order.id} is fully refunded; 0 is left to refund`, { remaining: 0 });
  if (order.status !== 'COMPLETED' && order.status !== 'PARTIALLY_REFUNDED') throw invalidState(`order ${order.id} is ${order.status}`);
  const window_ms = rules.owner_window_days * DAY_MS;
  if (rules.caller === 'owner' && order.completed_at && rules.now_ms - Date.parse(order.completed_at) > window_ms) {
    throw new DomainError('not_refundable', `orders can be refunded by the player within ${rules.owner_window_days} days`);
  }
}

function assertPolicyAllows(lines: ReadonlyArray<{ line: PricedLine }>, rules: RefundRules): void {
  if (rules.override_policy) return;
  const refused = lines.find(({ line }) => !line.refundable || line.kind === 'consumable');
  if (!refused) return;
  const hint = rules.caller === 'support' ? '; "override_policy": true refunds it anyway' : '';
  throw new DomainError('not_refundable', `${refused.line.item_id} is not refundable${hint}`, { item_id: refused.line.item_id });
}
