import { randomUUID } from 'node:crypto';
import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import type { Unit } from '../../batch/unit.js';
import { DomainError } from '../../domain/errors.js';
import { insertHold } from '../../ledger/holds.js';
import { postTransaction } from '../../ledger/posting.js';
import { movement } from '../../ledger/postings.js';
import type { AppDeps } from '../../platform/deps.js';
import { sharePostings } from '../../merchants/revenue-shares.js';
import type { Metadata } from '../../ledger/ledger-records.js';
import type { Item } from '../catalog/item.js';
import { findItems } from '../catalog/item-repository.js';
import { grantEntitlements, insertOrder } from './order-book.js';
import type { Order, OrderMode } from './order-records.js';
import { grantPostings, priceOrder, type PricedOrder, type RequestedLine } from './pricing.js';
import { orderView } from './views.js';

export interface PlaceOrderInput {
  account_id: string;
  lines: RequestedLine[];
  expected_total?: number;
  mode?: OrderMode;
  metadata?: Metadata;
}

/** The hold outlives the order's pending window, so recovery always finds it ACTIVE to void. */
const HOLD_MARGIN_SECONDS = 300;

/**
 * Places an order priced from the catalog as the batch reads it. Immediate: order, debit, pack
 * grants, merchants' revenue shares, entitlements and COMPLETED together. Two-step: the order
 * PENDING with a hold for its total (shares are paid on completion).
 *
 * The merchants of the items are read before the batch (their accounts must be locked by it);
 * should the catalog name another merchant by the time the batch reads it, the order is refused
 * rather than paying an account the batch did not lock.
 */
export async function placeOrder(
  deps: AppDeps,
  actor: Actor,
  input: PlaceOrderInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const mode = input.mode ?? 'immediate';
  const item_ids = input.lines.map((line) => line.item_id);
  const merchants = merchantsOf((await deps.transactions.read((tx) => findItems(tx, item_ids))).values());
  return deps.writes.request(
    {
      name: 'place_order',
      region: (await deps.directory.regionOf(input.account_id)) ?? deps.region,
      needs: { accounts: [input.account_id, ...merchants], items: item_ids },
      decide: (unit) => {
        const priced = priceOrder(input.lines, unit.items, deps.config.limits);
        if (priced.lines.some((line) => line.merchant_id !== null && !merchants.includes(line.merchant_id))) {
          throw new DomainError('invalid_state', 'the catalog changed while the order was placed; place it again');
        }
        if (input.expected_total !== undefined && input.expected_total !== priced.total_minor) {
          throw new DomainError('price_changed', `the order costs ${priced.total_minor} ${priced.currency}, not ${input.expected_total}`, {
            total: priced.total_minor,
            currency: priced.currency,
          });
        }
        const order = { account_id: input.account_id, priced, metadata: input.metadata ?? {} };
        return orderView(mode === 'immediate' ? payNow(deps, unit, order) : authorize(deps, unit, order));
      },
    },
    idempotency,
  );
}

interface NewOrder {
  account_id: string;
  priced: PricedOrder;
  metadata: Metadata;
}

function merchantsOf(items: Iterable<Item>): string[] {
  return [...new Set([...items].flatMap((item) => (item.merchant ? [item.merchant.merchant_id] : [])))];
}

function payNow(deps: AppDeps, unit: Unit, order: NewOrder): Order {
  const { account_id, priced, metadata } = order;
  const id = randomUUID();
  const posted = postTransaction(
    unit,
    {
      type: 'purchase',
      account_id,
      currency: priced.currency,
      amount_minor: priced.total_minor,
      order_id: id,
      metadata,
      postings: [
        ...movement(account_id, '@revenue', priced.currency, priced.total_minor),
        ...sharePostings(priced.currency, lineShares(priced.lines), 1),
        ...grantPostings(
          account_id,
          priced.lines.map((line) => ({ line, quantity: line.quantity })),
          1,
        ),
      ],
    },
    deps.config.limits,
  );
  const placed = insertOrder(unit, {
    id,
    account_id,
    mode: 'immediate',
    priced,
    statuses: ['PENDING', 'COMPLETED'],
    pending_until: null,
    hold_id: null,
    payment_transaction_id: posted.id,
    metadata,
  });
  grantEntitlements(unit, placed);
  return placed;
}

/** What each merchant line of an order pays its merchant (or, with direction -1 in a refund, takes back). */
export function lineShares(lines: ReadonlyArray<{ merchant_id: string | null; merchant_share_minor: number }>) {
  return lines.map((line) => ({ merchant_id: line.merchant_id, amount_minor: line.merchant_share_minor }));
}

function authorize(deps: AppDeps, unit: Unit, order: NewOrder): Order {
  const { account_id, priced, metadata } = order;
  const id = randomUUID();
  const hold = insertHold(
    unit,
    {
      owner: 'order',
      account_id,
      currency: priced.currency,
      amount_minor: priced.total_minor,
      expires_in_seconds: deps.config.order_pending_timeout_seconds + HOLD_MARGIN_SECONDS,
      destination_account_id: '@revenue',
      reference: `order:${id}`,
      metadata,
    },
    deps.config.limits,
  );
  return insertOrder(unit, {
    id,
    account_id,
    mode: 'two_step',
    priced,
    statuses: ['PENDING'],
    pending_until: new Date(unit.now_ms + deps.config.order_pending_timeout_seconds * 1000).toISOString(),
    hold_id: hold.id,
    payment_transaction_id: null,
    metadata,
  });
}
