import type { EventRecord } from '../events/event-records.js';

/** A delivery this pod holds the lease of, with its event: what an attempt needs. */
export interface DeliveryJob {
  id: string;
  endpoint_id: string;
  account_id: string | null;
  /** Null: outside any order (no account, or an operator's redelivery). */
  account_seq: number | null;
  /** Attempts made before this pod took it. */
  attempts: number;
  /** When the delivery was created: its retry window starts then (an operator's redelivery of an old event gets a whole window). */
  created_at: string;
  lease_token: string;
  /** Local clock: an attempt must have ended by then (the lease's expiry less a margin). */
  deadline_ms: number;
  event: EventRecord;
  /** Local clock when the event was known committed (for the lag metric). */
  committed_ms: number;
}

/** Weight of the newest attempt in an endpoint's smoothed latency: about the last ten attempts count. */
const LATENCY_WEIGHT = 0.2;
// The share of the start window planned to be used: attempts a little slower than their average
// must not leave the last of a chain to be given back.
const WINDOW_PLANNED = 0.8;

interface Lane {
  /** Waiting to start, in arrival order. */
  queued: DeliveryJob[];
  in_flight: number;
  /** Per account: its jobs held here (queued or in flight), by account_seq; only the first may run. */
  chains: Map<string, DeliveryJob[]>;
}

/**
 * The deliveries one pod holds, per endpoint: bounded (`queue_max` held per endpoint, beyond
 * which new ones are refused and stay in the database for another pod or a later poll), run at
 * most `concurrency` at a time per endpoint (so a slow endpoint occupies its own lane only), and,
 * per endpoint and account, one at a time in account_seq order: a job starts only when every
 * earlier job of its chain is done, and a job that must be retried later takes its successors
 * out with it (they wait, in the database, until it is delivered or given up). Pure bookkeeping,
 * no I/O.
 */
export class DeliveryLanes {
  private readonly lanes = new Map<string, Lane>();
  /** Held, but not to start before confirm(): a job taken with its batch while its order is being checked. */
  private readonly provisional = new Set<DeliveryJob>();
  /** Per endpoint, how long its attempts take (smoothed): what room() plans with. */
  private readonly latency_ms = new Map<string, number>();

  /**
   * `start_window_ms`: how long after it is taken a delivery may still start (its lease, less the
   * attempt's timeout and a margin). Past it, a delivery is given back unattempted. `timeout_ms`:
   * the longest an attempt takes, the pace planned with until the endpoint's first attempt here.
   */
  constructor(private readonly limits: { queue_max: number; concurrency: number; start_window_ms: number; timeout_ms: number }) {}

  /** Jobs held (queued or in flight) for an endpoint. */
  depth(endpoint_id: string): number {
    const lane = this.lanes.get(endpoint_id);
    return lane ? lane.queued.length + lane.in_flight : 0;
  }

  endpoints(): string[] {
    return [...this.lanes.keys()];
  }

  /**
   * Room left in an endpoint's lane: up to `queue_max` held, and no more than its attempts, at
   * their recent pace, can start within a lease (`concurrency` at a time). Holding more than that
   * from a slow endpoint only gives the rest back unattempted when their leases end.
   */
  room(endpoint_id: string): number {
    const sendable = this.limits.concurrency * this.startsInWindow(endpoint_id);
    return Math.max(0, Math.min(this.limits.queue_max, sendable) - this.depth(endpoint_id));
  }

  /** How many deliveries of one chain of an endpoint (they run one after another) can start within a lease. */
  chainRoom(endpoint_id: string): number {
    return Math.min(this.limits.queue_max, this.startsInWindow(endpoint_id));
  }

  /** Jobs held for one chain (endpoint and account), queued or in flight. */
  chainDepth(endpoint_id: string, account_id: string): number {
    return this.lanes.get(endpoint_id)?.chains.get(account_id)?.length ?? 0;
  }

  /** An attempt to the endpoint took this long (answered or timed out). */
  noteLatency(endpoint_id: string, latency_ms: number): void {
    const known = this.latency_ms.get(endpoint_id);
    this.latency_ms.set(endpoint_id, known === undefined ? latency_ms : known + LATENCY_WEIGHT * (latency_ms - known));
  }

  /** The endpoint is gone: its pace is forgotten. */
  forget(endpoint_id: string): void {
    this.latency_ms.delete(endpoint_id);
  }

  /**
   * Attempts one after another that can start within a lease at the endpoint's pace. Before its
   * first attempt from this pod, at the slowest pace: a pod that had never sent to a 100 ms endpoint
   * once took a burst's whole chain of 60 with its batch and gave back the 46 it could not start.
   */
  private startsInWindow(endpoint_id: string): number {
    const latency_ms = this.latency_ms.get(endpoint_id) ?? this.limits.timeout_ms;
    return Math.max(1, Math.floor((WINDOW_PLANNED * this.limits.start_window_ms) / Math.max(1, latency_ms)));
  }

  /** The account_seq of the last job held in its chain before `job` (queued or in flight), or null when none is. */
  heldBefore(job: { endpoint_id: string; account_id: string; account_seq: number }): number | null {
    const chain = this.lanes.get(job.endpoint_id)?.chains.get(job.account_id) ?? [];
    let before: number | null = null;
    for (const held of chain) if (held.account_seq! < job.account_seq) before = held.account_seq;
    return before;
  }

  /**
   * Takes what fits; returns the jobs refused for want of room. A `provisional` job holds its place
   * in its chain (a failure before it takes it out like any successor) but starts only once confirmed.
   */
  add(jobs: readonly DeliveryJob[], provisional = false): DeliveryJob[] {
    const refused: DeliveryJob[] = [];
    for (const job of jobs) {
      const lane = this.lane(job.endpoint_id);
      if (lane.queued.length + lane.in_flight >= this.limits.queue_max) {
        refused.push(job);
        continue;
      }
      if (provisional) this.provisional.add(job);
      lane.queued.push(job);
      if (job.account_seq !== null && job.account_id !== null) {
        const chain = lane.chains.get(job.account_id) ?? [];
        chain.push(job);
        chain.sort((a, b) => a.account_seq! - b.account_seq!);
        lane.chains.set(job.account_id, chain);
      }
    }
    return refused;
  }

  /** Provisional jobs may start now (those still held: a failure before them may have taken them out). */
  confirm(jobs: readonly DeliveryJob[]): void {
    for (const job of jobs) this.provisional.delete(job);
  }

  /** Whether a job is still held here, queued or in flight. */
  holds(job: DeliveryJob): boolean {
    const lane = this.lanes.get(job.endpoint_id);
    if (!lane) return false;
    if (lane.queued.includes(job)) return true;
    return job.account_id !== null && (lane.chains.get(job.account_id)?.includes(job) ?? false);
  }

  /** The jobs to start now (marked in flight). */
  startable(): DeliveryJob[] {
    const started: DeliveryJob[] = [];
    for (const lane of this.lanes.values()) {
      for (let index = 0; index < lane.queued.length && lane.in_flight < this.limits.concurrency; ) {
        const job = lane.queued[index]!;
        if (this.provisional.has(job) || !this.isChainHead(lane, job)) {
          index += 1;
          continue;
        }
        lane.queued.splice(index, 1);
        lane.in_flight += 1;
        started.push(job);
      }
    }
    return started;
  }

  /**
   * An attempt ended. `settled`: delivered or given up, so the next job of its chain may run;
   * otherwise (it will be retried later) the rest of its chain leaves too: returned, to be given
   * back (their leases released).
   */
  finish(job: DeliveryJob, settled: boolean): DeliveryJob[] {
    const lane = this.lanes.get(job.endpoint_id);
    if (!lane) return [];
    lane.in_flight -= 1;
    const released = settled ? this.unchain(lane, job) : this.cut(lane, job);
    this.forgetIfEmpty(job.endpoint_id, lane);
    return released;
  }

  /** Takes queued jobs out (the endpoint was disabled, the pod stops): returns them with their chain successors. */
  removeQueued(which: (job: DeliveryJob) => boolean): DeliveryJob[] {
    const removed: DeliveryJob[] = [];
    for (const [endpoint_id, lane] of this.lanes) {
      for (const job of lane.queued.filter(which)) {
        if (lane.queued.includes(job)) removed.push(...this.cut(lane, job, true));
      }
      this.forgetIfEmpty(endpoint_id, lane);
    }
    return removed;
  }

  private lane(endpoint_id: string): Lane {
    let lane = this.lanes.get(endpoint_id);
    if (!lane) {
      lane = { queued: [], in_flight: 0, chains: new Map() };
      this.lanes.set(endpoint_id, lane);
    }
    return lane;
  }

  private isChainHead(lane: Lane, job: DeliveryJob): boolean {
    if (job.account_seq === null || job.account_id === null) return true;
    return lane.chains.get(job.account_id)?.[0] === job;
  }

  private unchain(lane: Lane, job: DeliveryJob): DeliveryJob[] {
    if (job.account_id === null || job.account_seq === null) return [];
    const chain = lane.chains.get(job.account_id) ?? [];
    const rest = chain.filter((held) => held !== job);
    if (rest.length === 0) lane.chains.delete(job.account_id);
    else lane.chains.set(job.account_id, rest);
    return [];
  }

  /** `job` and every later job of its chain leave the lane; returns those that were queued (and `job` itself if `include`). */
  private cut(lane: Lane, job: DeliveryJob, include = false): DeliveryJob[] {
    const chain = job.account_id === null || job.account_seq === null ? [job] : (lane.chains.get(job.account_id) ?? [job]);
    const position = chain.indexOf(job);
    const leaving = chain.slice(Math.max(position, 0));
    if (job.account_id !== null && job.account_seq !== null) {
      const kept = chain.slice(0, Math.max(position, 0));
      if (kept.length === 0) lane.chains.delete(job.account_id);
      else lane.chains.set(job.account_id, kept);
    }
    const removed = leaving.filter((held) => held !== job || include);
    lane.queued = lane.queued.filter((queued) => !leaving.includes(queued));
    for (const held of leaving) this.provisional.delete(held);
    return removed;
  }

  private forgetIfEmpty(endpoint_id: string, lane: Lane): void {
    if (lane.queued.length === 0 && lane.in_flight === 0 && lane.chains.size === 0) this.lanes.delete(endpoint_id);
  }
}
