import { captureHoldIn } from '../../ledger/hold-sql.js';
import { releaseHold } from '../../ledger/hold-sql.js';
import { findHold } from '../../ledger/ledger-queries.js';
import type { ClaimedJob } from '../jobs/job-queue.js';
import { assertLeaseIn, finishJobIn } from '../jobs/job-queue.js';
import type { AppDeps } from '../../platform/deps.js';
import type { SellerOrder } from '../client/seller-protocol.js';
import { sellerMetrics } from '../seller-metrics.js';
import { orderIdempotencyKey } from './purchase-context.js';
import { confirmAttempt, finishRequest, findPurchaseRequest, type FinalFields, type PurchaseRequest } from './purchase-repository.js';

type Deps = Pick<AppDeps, 'transactions' | 'config' | 'logger' | 'metrics'>;

/**
 * Bought: in ONE serializable transaction, the attempt is confirmed, the actual price is
 * captured from the wallet hold to @sellers (the rest of the hold released) and the request
 * becomes `purchased`; the job ends with it. The hold can be captured only while ACTIVE and the
 * request finished only while pending, so a retried or duplicated finish captures nothing twice.
 */
export async function finishPurchased(
  deps: Deps,
  job: ClaimedJob,
  request: PurchaseRequest,
  bought: { position: number; seller_id: string; order: SellerOrder },
): Promise<void> {
  const status = await deps.transactions.run(
    'finish_purchase',
    async (tx) => {
      await assertLeaseIn(tx, job);
      const current = await findPurchaseRequest(tx, request.id, { for_update: true });
      if (current?.status !== 'pending') return finishJobIn(tx, job).then(() => undefined);
      await confirmAttempt(tx, request.id, bought.position, bought.order);
      const confirmation = {
        seller_id: bought.seller_id,
        order_id: bought.order.order_id,
        price: bought.order.price_minor,
        idempotency_key: orderIdempotencyKey(request.id, bought.seller_id),
      };
      const hold = await findHold(tx, request.hold_id);
      // A seller price above the maximum breaks the seller protocol (holds and quotes are checked
      // against the maximum before ordering): the player is never charged more than they allowed.
      const charged_minor = Math.min(bought.order.price_minor, request.max_price_minor);
      if (hold?.status !== 'ACTIVE') {
        deps.logger.error(
          { purchase_request_id: request.id, hold_id: request.hold_id, status: hold?.status },
          'bought from a seller but the wallet hold is no longer active',
        );
        await finishRequest(tx, request.id, {
          status: 'failed',
          failure_reason: `bought (order ${bought.order.order_id}) but the wallet hold was ${hold?.status ?? 'missing'}: needs review`,
        });
        await finishJobIn(tx, job);
        return 'failed' as const;
      }
      await captureHoldIn(
        tx,
        hold,
        charged_minor,
        { type: 'seller_purchase', purchase_request_id: request.id, reference: `${bought.seller_id}:${bought.order.order_id}` },
        deps.config.limits,
      );
      await finishRequest(tx, request.id, {
        status: 'purchased',
        final_price_minor: charged_minor,
        seller_id: bought.seller_id,
        confirmation,
      });
      await finishJobIn(tx, job);
      return 'purchased' as const;
    },
    { contended_accounts: [request.account_id] },
  );
  countFinished(deps, request, status);
}

/** Nothing bought: the wallet hold is voided and the request gets its final status, in one transaction. */
export async function finishUnpurchased(deps: Deps, job: ClaimedJob, request: PurchaseRequest, outcome: FinalFields): Promise<void> {
  const status = await deps.transactions.run(
    'finish_purchase',
    async (tx) => {
      await assertLeaseIn(tx, job);
      const current = await findPurchaseRequest(tx, request.id, { for_update: true });
      if (current?.status !== 'pending') return finishJobIn(tx, job).then(() => undefined);
      const hold = await findHold(tx, request.hold_id);
      if (hold?.status === 'ACTIVE') await releaseHold(tx, hold, 'VOIDED');
      await finishRequest(tx, request.id, outcome);
      await finishJobIn(tx, job);
      return outcome.status;
    },
    { contended_accounts: [request.account_id] },
  );
  countFinished(deps, request, status);
}

/** After the commit: a request finished by this run (undefined: it was already final). */
function countFinished(deps: Deps, request: PurchaseRequest, status: string | undefined): void {
  if (status === undefined) return;
  const metrics = sellerMetrics(deps.metrics);
  metrics.purchase_requests_finished_total.inc({ status });
  metrics.purchase_request_duration_seconds.observe({ status }, (Date.now() - Date.parse(request.created_at)) / 1000);
}
