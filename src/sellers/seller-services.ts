import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../platform/deps.js';
import type { PeriodicTask } from '../platform/worker.js';
import { CallSlots } from './client/call-slots.js';
import { OutboundAgents } from './client/http-call.js';
import { JobRunner } from './jobs/job-runner.js';
import { runPurchase } from './purchases/run-purchase.js';
import { QuoteCoalescer } from './quotes/quote-coalescer.js';
import { purgeSellerStateTask } from './purge-seller-state.js';

/** The aggregator's per-pod state: call slots, the single-flight map, the job runner. */
export interface SellerServices {
  /** Identifies this pod in leases: region, process and a random part (two pods may share a process in tests). */
  owner: string;
  slots: CallSlots;
  /** The connections of this pod's seller calls. */
  agents: OutboundAgents;
  coalescer: QuoteCoalescer;
  jobs: JobRunner;
}

/** What the seller services are built from: every other dependency of the pod. */
export type SellerDeps = Omit<AppDeps, 'sellers' | 'payouts'>;

/** Built once per pod by buildDeps (requests and background tasks of one pod share it). */
export function createSellerServices(deps: SellerDeps): SellerServices {
  const owner = `${deps.region}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const slots = new CallSlots(deps.config.sellers.calls_in_flight_max);
  const agents = new OutboundAgents(deps.config.sellers.sockets_per_origin_max);
  const coalescer = new QuoteCoalescer(deps, slots, agents, owner);
  const jobs = new JobRunner(
    deps,
    { kind: 'purchase', task_name: 'purchase_jobs', run: (lease) => runPurchase(deps, { slots, agents, coalescer }, lease) },
    owner,
  );
  return { owner, slots, agents, coalescer, jobs };
}

/** Background tasks of the aggregator, run by every pod. */
export function sellerBackgroundTasks(deps: AppDeps): PeriodicTask[] {
  return [deps.sellers.jobs.task(), purgeSellerStateTask(deps)];
}
