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
import { changeStatus, findOrder, insertOrder, type OrderMode } from './order-repository.js';
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
export async function placeOrder(deps: AppDeps, actor: Actor, input: PlaceOrderInput, idempotency: IdempotencyScope): Promise<CommandResult<OrderView>> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const mode = input.mode ?? 'immediate';
  return deps.commands.run(
    'place_order',
    idempotency,
    async (tx, placement) => {
      const priced = priceOrder(input.lines, await findItems(tx, input.lines.map((line) => line.item_id)), deps.config.limits.amount_max_minor);
      if (input.expected_total !== undefined && input.expected_total !== priced.total_minor) {
        throw new DomainError('price_changed', `the order costs ${priced.total_minor} ${priced.currency}, not ${input.expected_total}`, {
          total: priced.total_minor,
          currency: priced.currency,
        });
      }
      const pending_seconds = mode === 'two_step' ? deps.config.order_pending_timeout_seconds : null;
      const order_id = await insertOrder(tx, { account_id: input.account_id, mode, priced, pending_until_seconds: pending_seconds });
      if (mode === 'immediate') await payNow(deps, tx, input.account_id, order_id, priced);
      else await authorize(deps, tx, input.account_id, order_id, priced);
      const order = (await findOrder(tx, order_id))!;
      placement.region = order.region;
      return orderView(order);
    },
    { contended_accounts: [input.account_id] },
  );
}

async function payNow(deps: AppDeps, tx: SqlTx, account_id: string, order_id: string, priced: PricedOrder): Promise<void> {
  const posted = await postTransaction(
    tx,
    {
      type: 'purchase',
      account_id,
      currency: priced.currency,
      amount_minor: priced.total_minor,
      order_id,
      postings: [
        ...movement(account_id, '@revenue', priced.currency, priced.total_minor),
        ...grantPostings(account_id, priced.lines.map((line) => ({ line, quantity: line.quantity })), 1),
      ],
    },
    deps.config.limits,
  );
  const order = (await findOrder(tx, order_id))!;
  await grantEntitlements(tx, order);
  await changeStatus(tx, order, 'COMPLETED', { payment_transaction_id: posted.id });
}

async function authorize(deps: AppDeps, tx: SqlTx, account_id: string, order_id: string, priced: PricedOrder): Promise<void> {
  const hold = await insertHold(tx, {
    account_id,
    currency: priced.currency,
    amount_minor: priced.total_minor,
    expires_in_seconds: deps.config.order_pending_timeout_seconds + HOLD_MARGIN_SECONDS,
    destination_account_id: '@revenue',
    reference: `order:${order_id}`,
  });
  await changeStatus(tx, (await findOrder(tx, order_id))!, 'PENDING', { hold_id: hold.id });
}
