import type { AppDeps } from '../../platform/deps.js';
import { LeaseLost, renewLease, type ClaimedJob } from './job-queue.js';

// A call must end this long before the lease could expire (timer and clock-rate slack).
const SAFETY_MARGIN_MS = 500;
/** A call's timeout may use the lease but for this (the margin, and the renewal's own round trip). */
export const LEASE_CALL_RESERVE_MS = 2 * SAFETY_MARGIN_MS;
const HEARTBEATS_PER_LEASE = 3;

/**
 * The lease of a running job, renewed by a heartbeat. It also bounds the job's external calls:
 * a seller call is started only with a timeout that ends before the lease could expire, so a
 * successor (which claims only after the expiry, on the database clock) never races a call of
 * ours. When the lease is lost, `signal` aborts the calls still in flight.
 */
export class JobLease {
  private valid_until_ms: number;
  private lost = false;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly lease_ms: number;

  constructor(
    private readonly deps: Pick<AppDeps, 'transactions' | 'config' | 'logger'>,
    readonly job: ClaimedJob,
  ) {
    this.lease_ms = deps.config.sellers.job_lease_ms;
    this.valid_until_ms = job.claimed_at_ms + this.lease_ms;
    this.timer = setInterval(
      () => void this.renew().catch(() => undefined),
      Math.max(100, Math.floor(this.lease_ms / HEARTBEATS_PER_LEASE)),
    );
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Renews the lease; throws LeaseLost when another pod holds it now. */
  async renew(): Promise<void> {
    if (this.lost) throw new LeaseLost(this.job.id);
    const sent_ms = Date.now();
    let renewed: boolean;
    try {
      renewed = await renewLease(this.deps, this.job);
    } catch (error) {
      // The database is unreachable: the lease runs out on its own schedule.
      this.deps.logger.warn({ err: error, job_id: this.job.id }, 'lease renewal failed');
      return;
    }
    if (!renewed) return this.lose();
    this.valid_until_ms = Math.max(this.valid_until_ms, sent_ms + this.lease_ms);
  }

  /**
   * The latest epoch ms by which a call started now must end; renews first when half the lease is
   * used, or when what is left of it would cut a call of `timeout_ms` short (a seller's timeout up
   * to the lease is then honoured whenever the call is made).
   */
  async callDeadlineMs(timeout_ms = 0): Promise<number> {
    if (this.lost) throw new LeaseLost(this.job.id);
    const left_ms = this.valid_until_ms - Date.now();
    if (left_ms < this.lease_ms / 2 || left_ms - SAFETY_MARGIN_MS < timeout_ms) await this.renew();
    return this.valid_until_ms - SAFETY_MARGIN_MS;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private lose(): never {
    this.lost = true;
    this.controller.abort();
    this.stop();
    throw new LeaseLost(this.job.id);
  }
}
