import { DomainError, invariant } from '../../domain/errors.js';
import type { Posting } from '../../ledger/postings.js';
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
}

export interface PricedOrder {
  currency: string;
  total_minor: number;
  lines: PricedLine[];
}

/** Prices an order from the catalog only: the client never sends a price. */
export function priceOrder(requested: readonly RequestedLine[], catalog: ReadonlyMap<string, Item>, amount_max_minor: number): PricedOrder {
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
    };
  });
  const currencies = new Set(lines.map((line) => catalog.get(line.item_id)!.currency));
  if (currencies.size !== 1)
    throw new DomainError('validation_error', `an order is paid in one currency; these items cost ${[...currencies].join(', ')}`);
  const total_minor = lines.reduce((sum, line) => sum + line.unit_price_minor * line.quantity, 0);
  if (!Number.isSafeInteger(total_minor) || total_minor > amount_max_minor) {
    throw new DomainError('validation_error', `the order total exceeds the maximum amount of ${amount_max_minor}`);
  }
  return { currency: [...currencies][0]!, total_minor, lines };
}

/** What the player's game currency wallets receive for the currency packs of the given quantities. */
export function grantPostings(
  account_id: string,
  lines: ReadonlyArray<{ line: PricedLine; quantity: number }>,
  direction: 1 | -1,
): Posting[] {
  const totals = new Map<string, number>();
  for (const { line, quantity } of lines) {
    if (line.grants) totals.set(line.grants.currency, (totals.get(line.grants.currency) ?? 0) + line.grants.amount_minor * quantity);
  }
  return [...totals].flatMap(([currency, amount]) => [
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
  /** True when nothing is left to refund after this refund. */
  completes_refund: boolean;
}

export interface RefundRules {
  /** Players are held to the refund policy; services with refunds:write may override it. */
  enforce_policy: boolean;
}

/**
 * Decides what a refund covers. By lines: those units at their snapshotted price. By amount:
 * money only (goodwill), unless it refunds everything left, which revokes every remaining unit.
 * Neither: everything left.
 */
export function planRefund(
  order: { total_minor: number; refunded_minor: number; lines: ReadonlyArray<PricedLine & { refunded_quantity: number }> },
  request: { lines?: readonly RefundLineRequest[]; amount_minor?: number },
  rules: RefundRules,
): RefundPlan {
  const remaining_minor = order.total_minor - order.refunded_minor;
  invariant(remaining_minor >= 0, 'an order was refunded beyond its total');
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
    assertRefundable(lines, rules);
    const amount_minor = lines.reduce((sum, entry) => sum + entry.line.unit_price_minor * entry.quantity, 0);
    if (amount_minor > remaining_minor)
      throw new DomainError('refund_exceeds_remaining', `${remaining_minor} is left to refund`, { remaining: remaining_minor });
    return { amount_minor, lines, completes_refund: amount_minor === remaining_minor };
  }
  const amount_minor = request.amount_minor ?? remaining_minor;
  if (remaining_minor === 0 || amount_minor > remaining_minor) {
    throw new DomainError('refund_exceeds_remaining', `${remaining_minor} is left to refund`, { remaining: remaining_minor });
  }
  // Money back without taking the items back is a goodwill gesture for support, not self-service.
  if (rules.enforce_policy && amount_minor < remaining_minor) {
    throw new DomainError('not_refundable', 'a player refunds by lines, or everything that is left; partial amounts are for support');
  }
  const completes_refund = amount_minor === remaining_minor;
  const lines = completes_refund ? remaining_units : [];
  assertRefundable(completes_refund ? lines : remaining_units, rules);
  return { amount_minor, lines, completes_refund };
}

function assertRefundable(lines: ReadonlyArray<{ line: PricedLine }>, rules: RefundRules): void {
  if (!rules.enforce_policy) return;
  const refused = lines.find(({ line }) => !line.refundable || line.kind === 'consumable');
  if (refused) throw new DomainError('not_refundable', `${refused.line.item_id} is not refundable`, { item_id: refused.line.item_id });
}
