import Joi from 'joi';
import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { CommandResult, IdempotencyScope } from '../../idempotency/command-runner.js';
import { insertHold } from '../../ledger/hold-sql.js';
import type { AppDeps } from '../../platform/deps.js';
import { idSchema, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import { insertJob } from '../jobs/job-queue.js';
import { statusUrl } from './get-purchase-request.js';
import { insertPurchaseRequest } from './purchase-repository.js';

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
 * Accepts a purchase request: in ONE transaction the wallet hold of `max_price` (to @sellers),
 * the request and its durable job; then the job is started in this pod. Sellers are never called
 * inside the transaction: the job calls them after the commit.
 */
export async function createPurchaseRequest(
  deps: AppDeps,
  actor: Actor,
  input: CreatePurchaseRequestInput,
  idempotency: IdempotencyScope,
): Promise<CommandResult<Accepted>> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const config = deps.config.sellers;
  const result = await deps.commands.run(
    'create_purchase_request',
    idempotency,
    async (tx, placement) => {
      const hold = await insertHold(tx, {
        owner: 'purchase_request',
        account_id: input.account_id,
        currency: input.currency,
        amount_minor: input.max_price,
        expires_in_seconds: config.purchase_hold_ttl_seconds,
        destination_account_id: '@sellers',
        reference: `purchase of ${input.product_id}`.slice(0, 200),
      });
      placement.region = hold.region;
      const id = await insertPurchaseRequest(tx, {
        ...input,
        max_price_minor: input.max_price,
        hold_id: hold.id,
        deadline_ms: config.deadline_ms,
        region: hold.region,
      });
      await insertJob(tx, { kind: 'purchase', subject_id: id, region: hold.region });
      return { id, status: 'pending' as const, status_url: statusUrl(id) };
    },
    { contended_accounts: [input.account_id] },
  );
  if (!result.replayed) deps.sellers.jobs.kick(result.body.id);
  return result;
}
