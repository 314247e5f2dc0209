import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../platform/deps.js';
import type { PeriodicTask } from '../platform/worker.js';
import { CallSlots } from './client/call-slots.js';
import { PurchaseJobRunner } from './jobs/purchase-job-runner.js';
import { QuoteCoalescer } from './quotes/quote-coalescer.js';
import { purgeSellerStateTask } from './purge-seller-state.js';

/** The aggregator's per-pod state: call slots, the single-flight map, the job runner. */
export interface SellerServices {
  /** Identifies this pod in leases: region, process and a random part (two pods may share a process in tests). */
  owner: string;
  slots: CallSlots;
  coalescer: QuoteCoalescer;
  jobs: PurchaseJobRunner;
}

const BY_POD = new WeakMap<AppDeps, SellerServices>();

/** Built once per pod, on first use (requests and background tasks of one pod share it). */
export function sellerServices(deps: AppDeps): SellerServices {
  let services = BY_POD.get(deps);
  if (!services) {
    const owner = `${deps.region}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const slots = new CallSlots(deps.config.sellers.calls_in_flight_max);
    const coalescer = new QuoteCoalescer(deps, slots, owner);
    services = { owner, slots, coalescer, jobs: new PurchaseJobRunner(deps, { slots, coalescer }, owner) };
    BY_POD.set(deps, services);
  }
  return services;
}

/** Background tasks of the aggregator, run by every pod. */
export function sellerBackgroundTasks(deps: AppDeps): PeriodicTask[] {
  return [sellerServices(deps).jobs.task(), purgeSellerStateTask(deps)];
}
