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
import { grantEntitlements, insertOrder } from './order-book.js';
import type { Order, OrderMode } from './order-records.js';
import { grantPostings, priceOrder, type PricedOrder, type RequestedLine } from './pricing.js';
import { orderView } from './views.js';

export interface PlaceOrderInput {
  account_id: string;
  lines: RequestedLine[];
  expected_total?: number;
  mode?: OrderMode;
}

/** The hold outlives the order's pending window, so recovery always finds it ACTIVE to void. */
const HOLD_MARGIN_SECONDS = 300;

/**
 * Places an order priced from the catalog as the batch reads it. Immediate: order, debit, pack
 * grants, entitlements and COMPLETED together. Two-step: the order PENDING with a hold for its total.
 */
export async function placeOrder(
  deps: AppDeps,
  actor: Actor,
  input: PlaceOrderInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const mode = input.mode ?? 'immediate';
  return deps.writes.request(
    {
      name: 'place_order',
      region: (await deps.directory.regionOf(input.account_id)) ?? deps.region,
      needs: { accounts: [input.account_id], items: input.lines.map((line) => line.item_id) },
      decide: (unit) => {
        const priced = priceOrder(input.lines, unit.items, deps.config.limits);
        if (input.expected_total !== undefined && input.expected_total !== priced.total_minor) {
          throw new DomainError('price_changed', `the order costs ${priced.total_minor} ${priced.currency}, not ${input.expected_total}`, {
            total: priced.total_minor,
            currency: priced.currency,
          });
        }
        return orderView(
          mode === 'immediate' ? payNow(deps, unit, input.account_id, priced) : authorize(deps, unit, input.account_id, priced),
        );
      },
    },
    idempotency,
  );
}

function payNow(deps: AppDeps, unit: Unit, account_id: string, priced: PricedOrder): Order {
  const id = randomUUID();
  const posted = postTransaction(
    unit,
    {
      type: 'purchase',
      account_id,
      currency: priced.currency,
      amount_minor: priced.total_minor,
      order_id: id,
      postings: [
        ...movement(account_id, '@revenue', priced.currency, priced.total_minor),
        ...grantPostings(
          account_id,
          priced.lines.map((line) => ({ line, quantity: line.quantity })),
          1,
        ),
      ],
    },
    deps.config.limits,
  );
  const order = insertOrder(unit, {
    id,
    account_id,
    mode: 'immediate',
    priced,
    statuses: ['PENDING', 'COMPLETED'],
    pending_until: null,
    hold_id: null,
    payment_transaction_id: posted.id,
  });
  grantEntitlements(unit, order);
  return order;
}

function authorize(deps: AppDeps, unit: Unit, account_id: string, priced: PricedOrder): Order {
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
  });
}
