import { randomUUID } from 'node:crypto';
import Joi from 'joi';
import { hasScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { forbidden } from '../../domain/errors.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import { postTransaction } from '../../ledger/posting.js';
import { movement } from '../../ledger/postings.js';
import type { AppDeps } from '../../platform/deps.js';
import { idSchema, minorSchema, timestampSchema, viewPart, viewSchema } from '../../platform/view-schema.js';
import { orderCommand } from './order-access.js';
import { changeStatus, insertRefund, markLinesRefunded, revokeEntitlements } from './order-book.js';
import { sharePostings, takeBackOf } from '../../merchants/revenue-shares.js';
import type { Unit } from '../../batch/unit.js';
import type { Order } from './order-records.js';
import { grantPostings, planRefund, type RefundLineRequest, type RefundRules } from './pricing.js';
import { orderStatusSchema } from './views.js';

export interface RefundOrderInput {
  order_id: string;
  lines?: RefundLineRequest[];
  amount?: number;
  reason: string;
  override_policy?: boolean;
}

/**
 * What the caller may do, from the token alone and before the order is looked up, so a caller
 * without the right learns nothing about the order: a service needs refunds:write (403), and
 * only such a service may override the refund policy (a player asking to is 403).
 */
function refundRules(deps: AppDeps, actor: Actor, override_policy: boolean): RefundRules {
  const rules = { override_policy, owner_window_days: deps.config.player_refund_window_days, now_ms: Date.now() };
  if (hasScope(actor, 'refunds:write')) return { ...rules, caller: 'support' };
  if (actor.kind !== 'player') throw forbidden('requires scope refunds:write');
  if (override_policy) throw forbidden('only a service with refunds:write may override the refund policy');
  return { ...rules, caller: 'owner' };
}

/**
 * Refunds an order by lines or by amount. The money returns to the wallet, refunded units lose
 * their entitlements and currency-pack grants are taken back, all in one transaction; racing
 * refunds both update the order row, so only one commits on what it read. An override of the
 * refund policy is recorded with the refund: who made it.
 */
export async function refundOrder(
  deps: AppDeps,
  actor: Actor,
  input: RefundOrderInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  const rules = refundRules(deps, actor, input.override_policy ?? false);
  return orderCommand(deps, actor, input.order_id, 'refund_order', idempotency, (unit, order) => {
    const plan = planRefund(order, { lines: input.lines, amount_minor: input.amount }, { ...rules, now_ms: unit.now_ms });
    const refund_id = randomUUID();
    const posted = postTransaction(
      unit,
      {
        type: 'order_refund',
        account_id: order.account_id,
        currency: order.currency,
        amount_minor: plan.amount_minor,
        reason: input.reason,
        order_id: order.id,
        refund_id,
        metadata: order.metadata,
        postings: [
          ...movement('@revenue', order.account_id, order.currency, plan.amount_minor),
          ...grantPostings(order.account_id, plan.lines, -1),
          ...sharePostings(order.currency, takeBacks(unit, order, plan.line_amounts), -1),
        ],
      },
      deps.config.limits,
    );
    const units = plan.lines.map(({ line, quantity }) => ({ line_no: line.line_no, quantity }));
    markLinesRefunded(unit, order.id, units, plan.line_amounts);
    revokeEntitlements(unit, order.id, units);
    const lines = plan.lines.map(({ line, quantity }) => ({ item_id: line.item_id, quantity }));
    const policy_overridden_by = rules.override_policy ? actor.id : null;
    const { created_at } = insertRefund(unit, {
      id: refund_id,
      order_id: order.id,
      amount_minor: plan.amount_minor,
      lines,
      reason: input.reason,
      transaction_id: posted.id,
      policy_overridden_by,
      region: order.region,
    });
    const status = plan.completes_refund ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    changeStatus(unit, order, status, { refunded_minor: order.refunded_minor + plan.amount_minor, reason: input.reason });
    return {
      id: refund_id,
      order_id: order.id,
      amount: plan.amount_minor,
      currency: order.currency,
      lines,
      reason: input.reason,
      override_policy: policy_overridden_by !== null,
      policy_overridden_by,
      transaction_id: posted.id,
      order_status: status,
      created_at,
    };
  });
}

/**
 * What each merchant gives back of its revenue share for the money this refund takes from its
 * lines (revenue-shares.ts). A closed merchant gives nothing back (nothing may change a closed
 * account): the platform bears its part.
 */
function takeBacks(unit: Unit, order: Order, line_amounts: ReadonlyMap<number, number>) {
  return order.lines.map((line) => {
    const merchant = line.merchant_id === null ? undefined : unit.account(line.merchant_id);
    const open = merchant !== undefined && merchant.status !== 'closed';
    const share_line = { ...line, total_minor: line.unit_price_minor * line.quantity };
    return { merchant_id: line.merchant_id, amount_minor: open ? takeBackOf(share_line, line_amounts.get(line.line_no) ?? 0) : 0 };
  });
}
/** The refund refundOrder answers; checked against real answers by test/api/openapi-contract.test.ts. */
export const orderRefundViewSchema = viewSchema('OrderRefund', {
  id: idSchema,
  order_id: idSchema,
  amount: minorSchema,
  currency: Joi.string(),
  lines: Joi.array().items(viewPart({ item_id: Joi.string(), quantity: Joi.number().integer() })),
  reason: Joi.string(),
  override_policy: Joi.boolean(),
  policy_overridden_by: Joi.string().allow(null).description('Who overrode the refund policy, when someone did'),
  transaction_id: idSchema,
  order_status: orderStatusSchema,
  created_at: timestampSchema,
});
