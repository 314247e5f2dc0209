import { randomUUID } from 'node:crypto';
import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { DomainError } from '../../domain/errors.js';
import type { SqlTx } from '../../db/sql.js';
import type { CommandResult, IdempotencyScope } from '../../idempotency/command-runner.js';
import { postTransaction } from '../../ledger/ledger-repository.js';
import { insertHold } from '../../ledger/hold-repository.js';
import { movement } from '../../ledger/postings.js';
import type { AppDeps } from '../../platform/deps.js';
import { findItems } from '../catalog/item-repository.js';
import { grantEntitlements } from './entitlement-repository.js';
import { insertOrder, type Order, type OrderMode } from './order-repository.js';
import { grantPostings, priceOrder, type PricedOrder, type RequestedLine } from './pricing.js';
import { orderView, type OrderView } from './views.js';

export interface PlaceOrderInput {
  account_id: string;
  lines: RequestedLine[];
  expected_total?: number;
  mode?: OrderMode;
}

/** The hold outlives the order's pending window, so recovery always finds it ACTIVE to void. */
const HOLD_MARGIN_SECONDS = 300;

/**
 * Places an order priced from the catalog. Immediate: order, debit, pack grants, entitlements
 * and COMPLETED in one transaction. Two-step: the order PENDING with a hold for its total.
 */
export async function placeOrder(
  deps: AppDeps,
  actor: Actor,
  input: PlaceOrderInput,
  idempotency: IdempotencyScope,
): Promise<CommandResult<OrderView>> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const mode = input.mode ?? 'immediate';
  return deps.commands.run(
    'place_order',
    idempotency,
    async (tx, placement) => {
      const priced = priceOrder(
        input.lines,
        await findItems(
          tx,
          input.lines.map((line) => line.item_id),
        ),
        deps.config.limits,
      );
      if (input.expected_total !== undefined && input.expected_total !== priced.total_minor) {
        throw new DomainError('price_changed', `the order costs ${priced.total_minor} ${priced.currency}, not ${input.expected_total}`, {
          total: priced.total_minor,
          currency: priced.currency,
        });
      }
      const order =
        mode === 'immediate' ? await payNow(deps, tx, input.account_id, priced) : await authorize(deps, tx, input.account_id, priced);
      placement.region = order.region;
      return orderView(order);
    },
    { contended_accounts: [input.account_id] },
  );
}

async function payNow(deps: AppDeps, tx: SqlTx, account_id: string, priced: PricedOrder): Promise<Order> {
  const id = randomUUID();
  const posted = await postTransaction(
    tx,
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
  const order = await insertOrder(tx, {
    id,
    account_id,
    mode: 'immediate',
    priced,
    statuses: ['PENDING', 'COMPLETED'],
    pending_until_seconds: null,
    hold_id: null,
    payment_transaction_id: posted.id,
  });
  await grantEntitlements(tx, order);
  return order;
}

async function authorize(deps: AppDeps, tx: SqlTx, account_id: string, priced: PricedOrder): Promise<Order> {
  const id = randomUUID();
  const hold = await insertHold(tx, {
    owner: 'order',
    account_id,
    currency: priced.currency,
    amount_minor: priced.total_minor,
    expires_in_seconds: deps.config.order_pending_timeout_seconds + HOLD_MARGIN_SECONDS,
    destination_account_id: '@revenue',
    reference: `order:${id}`,
  });
  return insertOrder(tx, {
    id,
    account_id,
    mode: 'two_step',
    priced,
    statuses: ['PENDING'],
    pending_until_seconds: deps.config.order_pending_timeout_seconds,
    hold_id: hold.id,
    payment_transaction_id: null,
  });
}
