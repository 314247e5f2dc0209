import type { SellerDeps } from '../seller-services.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { JobLease } from './job-lease.js';
import { claimJobOf, claimJobs, LeaseLost, releaseJob, type ClaimedJob, type JobKind } from './job-queue.js';

// Jobs claimed per poll at most, so one pod does not grab a backlog other pods could share.
const CLAIM_BATCH_MAX = 16;

/** What a kind of durable job does with its lease: purchases ask sellers, payouts ask the payout provider. */
export interface JobSpec {
  kind: JobKind;
  /** The periodic task's name (logs, metrics). */
  task_name: string;
  /** Runs the job under its lease; finishes, reschedules or releases it, or throws to be released for a retry. */
  run(lease: JobLease): Promise<void>;
}

/**
 * Runs durable jobs of one kind in this pod, at most `job_concurrency_max` at once: the pod that
 * accepted a request starts its job at once (kick), and a periodic poll picks up any other
 * runnable job (another pod's backlog, a job whose pod died, a job released for a retry).
 */
export class JobRunner {
  private readonly running = new Map<string, Promise<void>>();
  /** Capacity promised to claims still in flight, so concurrent kicks and polls cannot overshoot. */
  private reserved = 0;

  constructor(
    private readonly deps: SellerDeps,
    private readonly spec: JobSpec,
    private readonly owner: string,
  ) {}

  task(): PeriodicTask {
    const { job_poll_interval_ms, job_concurrency_max } = this.deps.config.sellers;
    return {
      name: this.spec.task_name,
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
      jobs = await claimJobs(this.deps, this.owner, this.spec.kind, this.deps.region, limit);
    } finally {
      this.reserved -= limit;
    }
    for (const job of jobs) this.start(job);
    return jobs.length;
  }

  /** Starts the job of a subject (a purchase request, a withdrawal) now if this pod has room; the poll catches it otherwise. */
  kick(subject_id: string): void {
    if (this.free <= 0) return;
    this.reserved += 1;
    claimJobOf(this.deps, this.owner, this.spec.kind, subject_id)
      .finally(() => (this.reserved -= 1))
      .then((job) => job && this.start(job))
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error, subject_id, kind: this.spec.kind }, 'starting a job failed; the poll will pick it up'),
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
      await this.spec.run(lease);
    } catch (error) {
      if (error instanceof LeaseLost) {
        this.deps.logger.info({ job_id: job.id, kind: job.kind }, 'job taken over by another pod');
        return;
      }
      this.deps.logger.warn({ err: error, job_id: job.id, kind: job.kind, claims: job.claims }, 'job failed; released for a retry');
      await releaseJob(this.deps, job, String(error), this.deps.config.sellers.job_retry_backoff_ms).catch(() => undefined);
    } finally {
      lease.stop();
    }
  }
}
