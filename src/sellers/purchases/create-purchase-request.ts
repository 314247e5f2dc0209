import { randomUUID } from 'node:crypto';
import Joi from 'joi';
import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import { insertHold } from '../../ledger/holds.js';
import type { AppDeps } from '../../platform/deps.js';
import { idSchema, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import { statusUrl } from './get-purchase-request.js';
import { insertJob, PURCHASE_REQUESTS } from './purchase-records.js';

export interface CreatePurchaseRequestInput {
  account_id: string;
  product_id: string;
  max_price: number;
  currency: string;
}

export interface Accepted {
  id: string;
  status: 'pending';
  status_url: string;
}

export const acceptedSchema = viewSchema('PurchaseRequestAccepted', {
  id: idSchema,
  status: Joi.valid('pending'),
  status_url: Joi.string().description('Poll it (GET) until the status is final'),
} satisfies ViewKeys<Accepted>);

/**
 * Accepts a purchase request: in ONE operation the wallet hold of `max_price` (to @sellers), the
 * request and its durable job; then the job is started in this pod. Sellers are never called
 * inside the transaction: the job calls them after the commit.
 */
export async function createPurchaseRequest(
  deps: AppDeps,
  actor: Actor,
  input: CreatePurchaseRequestInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const config = deps.config.sellers;
  const id = randomUUID();
  const answer = await deps.writes.request(
    {
      name: 'create_purchase_request',
      region: (await deps.directory.regionOf(input.account_id)) ?? deps.region,
      needs: { accounts: [input.account_id] },
      decide: (unit): Accepted => {
        const hold = insertHold(
          unit,
          {
            owner: 'purchase_request',
            account_id: input.account_id,
            currency: input.currency,
            amount_minor: input.max_price,
            expires_in_seconds: config.purchase_hold_ttl_seconds,
            destination_account_id: '@sellers',
            reference: `purchase of ${input.product_id}`.slice(0, 200),
          },
          deps.config.limits,
        );
        unit.table(PURCHASE_REQUESTS).insert({
          id,
          account_id: input.account_id,
          product_id: input.product_id,
          max_price_minor: input.max_price,
          currency: input.currency,
          status: 'pending',
          hold_id: hold.id,
          deadline_at: new Date(unit.now_ms + config.deadline_ms).toISOString(),
          quotes: null,
          final_price_minor: null,
          seller_id: null,
          confirmation: null,
          lowest_price_minor: null,
          failure_reason: null,
          review_reason: null,
          review_settlement: null,
          region: hold.region,
          created_at: unit.now,
          updated_at: unit.now,
          finished_at: null,
        });
        insertJob(unit, 'purchase', id, hold.region);
        return { id, status: 'pending', status_url: statusUrl(id) };
      },
    },
    idempotency,
  );
  if (!answer.replayed && answer.status === 202) deps.sellers.jobs.kick(id);
  return answer;
}
