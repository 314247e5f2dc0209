import type { SqlTx } from '../../db/sql.js';
import type { SellerDeps } from '../seller-services.js';
import type { CallSlots } from '../client/call-slots.js';
import type { OutboundAgents } from '../client/http-call.js';
import { assertLeaseIn } from '../jobs/job-queue.js';
import type { JobLease } from '../jobs/job-lease.js';
import type { PurchaseRequest } from './purchase-repository.js';

/** What one run of a purchase job works with. */
export interface PurchaseContext {
  deps: SellerDeps;
  slots: CallSlots;
  agents: OutboundAgents;
  lease: JobLease;
  request: PurchaseRequest;
  deadline_ms: number;
}

/** A progress write of the job (quotes, attempts): one transaction, fenced by the job's lease. */
export async function fenced<T>(ctx: PurchaseContext, name: string, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  return ctx.deps.transactions.run(name, async (tx) => {
    await assertLeaseIn(tx, ctx.lease.job);
    return work(tx);
  });
}

/** The seller's idempotency key of our order (SPEC): a retry or a crash never buys twice. */
export function orderIdempotencyKey(request_id: string, seller_id: string): string {
  return `${request_id}:${seller_id}`;
}
