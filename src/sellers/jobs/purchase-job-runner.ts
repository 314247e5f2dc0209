import type { SellerDeps } from '../seller-services.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { runPurchase, type PurchaseServices } from '../purchases/run-purchase.js';
import { JobLease } from './job-lease.js';
import { claimJobOf, claimJobs, LeaseLost, releaseJob, type ClaimedJob } from './job-queue.js';

// Jobs claimed per poll at most, so one pod does not grab a backlog other pods could share.
const CLAIM_BATCH_MAX = 16;

/**
 * Runs purchase jobs in this pod, at most `job_concurrency_max` at once: the pod that accepted
 * a request starts its job at once (kick), and a periodic poll picks up any other runnable job
 * (another pod's backlog, a job whose pod died, a job released for a retry).
 */
export class PurchaseJobRunner {
  private readonly running = new Map<string, Promise<void>>();
  /** Capacity promised to claims still in flight, so concurrent kicks and polls cannot overshoot. */
  private reserved = 0;

  constructor(
    private readonly deps: SellerDeps,
    private readonly services: PurchaseServices,
    private readonly owner: string,
  ) {}

  task(): PeriodicTask {
    const { job_poll_interval_ms, job_concurrency_max } = this.deps.config.sellers;
    return {
      name: 'purchase_jobs',
      interval_ms: job_poll_interval_ms,
      batch_size: Math.min(CLAIM_BATCH_MAX, job_concurrency_max),
      run: () => this.poll(),
    };
  }

  private get free(): number {
    return this.deps.config.sellers.job_concurrency_max - this.running.size - this.reserved;
  }

  async poll(): Promise<number> {
    const limit = Math.min(CLAIM_BATCH_MAX, this.free);
    if (limit <= 0) return 0;
    this.reserved += limit;
    let jobs: ClaimedJob[];
    try {
      jobs = await claimJobs(this.deps, this.owner, this.deps.region, limit);
    } finally {
      this.reserved -= limit;
    }
    for (const job of jobs) this.start(job);
    return jobs.length;
  }

  /** Starts the job of a purchase request now if this pod has room; the poll catches it otherwise. */
  kick(purchase_request_id: string): void {
    if (this.free <= 0) return;
    this.reserved += 1;
    claimJobOf(this.deps, this.owner, 'purchase', purchase_request_id)
      .finally(() => (this.reserved -= 1))
      .then((job) => job && this.start(job))
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error, purchase_request_id }, 'starting a purchase job failed; the poll will pick it up'),
      );
  }

  /** Resolves when no job runs in this pod (tests, draining). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private start(job: ClaimedJob): void {
    const run = this.execute(job).finally(() => this.running.delete(job.id));
    this.running.set(job.id, run);
  }

  private async execute(job: ClaimedJob): Promise<void> {
    const lease = new JobLease(this.deps, job);
    try {
      await runPurchase(this.deps, this.services, lease);
    } catch (error) {
      if (error instanceof LeaseLost) {
        this.deps.logger.info({ job_id: job.id }, 'purchase job taken over by another pod');
        return;
      }
      this.deps.logger.warn({ err: error, job_id: job.id, claims: job.claims }, 'purchase job failed; released for a retry');
      await releaseJob(this.deps, job, String(error), this.deps.config.sellers.job_retry_backoff_ms).catch(() => undefined);
    } finally {
      lease.stop();
    }
  }
}
