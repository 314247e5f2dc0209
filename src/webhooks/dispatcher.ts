import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommitObserver } from '../batch/executor.js';
import type { Unit } from '../batch/unit.js';
import { EVENTS, eventBody } from '../events/event-records.js';
import type { AppDeps } from '../platform/deps.js';
import { backoffDelayMs } from '../platform/backoff.js';
import type { PeriodicTask } from '../platform/worker.js';
import { httpCall, OutboundAgents, type HttpOutcome } from '../sellers/client/http-call.js';
import { judgeAttempt } from './attempt-policy.js';
import { disableFailingEndpoint } from './change-endpoint.js';
import { DeliveryLanes, type DeliveryJob } from './delivery-lanes.js';
import { WEBHOOK_DELIVERIES } from './delivery-records.js';
import {
  blockedDeliveries,
  chainKey,
  claimDeliveries,
  claimFollowers,
  eventGoneOutcome,
  findEvents,
  recordAttempts,
  releaseDeliveries,
  setAside,
  type AttemptOutcome,
  type ClaimedDelivery,
  type GivenBack,
  type WokenChain,
} from './delivery-store.js';
import { markFailing, markHealthy, readHealth } from './endpoint-health.js';
import { toEndpointRecord, WEBHOOK_ENDPOINTS, type EndpointHealth, type EndpointRecord } from './endpoint-records.js';
import { activeSecrets, secretValue } from './endpoint-secrets.js';
import { ENDPOINTS_READ_PARAM, ENDPOINTS_READ_TEXT } from './fan-out.js';
import { SIGNATURE_HEADER, webhookSignatureHeader } from './signature.js';
import { LEASE_SAFETY_MARGIN_MS } from './webhook-config.js';
import { createWebhookMetrics, type WebhookMetrics } from './webhook-metrics.js';

/** An endpoint whose attempts from this pod have failed since its last success. */
interface FailingEndpoint {
  /** From WEBHOOK_PROBE_AFTER_FAILURES on, the endpoint is only probed. */
  failures_in_row: number;
  /** When this pod may send its next probe (the endpoint's own backoff). */
  probe_not_before_ms: number;
}

/** What the dispatcher needs before the pod's deps exist (the batch executor is built with it as its observer). */
export type DispatcherBase = Pick<AppDeps, 'transactions' | 'config' | 'logger' | 'metrics' | 'region'>;

const FLUSH_RETRY_BACKOFF = { initial_ms: 100, max_ms: 5000 };
const FLUSH_TRIES_MAX = 8;
const USER_AGENT = 'creditshop-webhooks/1';

/**
 * Delivers webhooks from this pod. Deliveries are created with their events, in the batch that
 * commits them (src/events/emit.ts). Two ways lead here:
 *
 * - The fast path: a batch this pod runs takes its own deliveries with it. Before its writes the
 *   rows get this pod's lease; after its commit they are held here at once (no poll, no claim
 *   statement), once one query has shown that no earlier delivery of the same endpoint and
 *   account is pending elsewhere (otherwise they are given back and wait their turn).
 * - The poll: every WEBHOOK_POLL_INTERVAL_MS, per endpoint with room, a claim of due deliveries
 *   that wait for nothing (a retry, a delivery given back, one whose pod died with its lease).
 *
 * Held deliveries run in bounded lanes per endpoint (src/webhooks/delivery-lanes.ts); outcomes
 * and give-backs are written in batches by one flush at a time, fenced by lease tokens. Nothing
 * here runs inside a batch's transaction, and a slow or dead endpoint fills only its own lane.
 */
export class WebhookDispatcher implements CommitObserver {
  readonly owner: string;
  private deps: AppDeps | undefined;
  private readonly lanes: DeliveryLanes;
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly health = new Map<string, EndpointHealth>();
  /** Per endpoint failing in this pod; forgotten at its first success. */
  private readonly failing = new Map<string, FailingEndpoint>();
  private readonly secret_values = new Map<string, string>();
  /** Per endpoint, its own connections: one slow endpoint never holds the sockets of another at the same origin. */
  private readonly agents = new Map<string, OutboundAgents>();
  /**
   * Endpoints this pod has seen deleted, and when: a batch that read one before its deletion and
   * commits after it must not bring it back. Kept for EVENTS_SETTLE_WINDOW_MS, beyond which no
   * transaction writing deliveries can still commit (src/events/settle-guard.ts).
   */
  private readonly deleted_at_ms = new Map<string, number>();
  private readonly metrics: WebhookMetrics;
  /** Per batch, the chains it left in the database for want of room (beforeWrites to committed). */
  private readonly left_for_room = new WeakMap<Unit, WokenChain[]>();
  private accepting: DeliveryJob[] = [];
  private accept_run: Promise<void> | undefined;
  private outcomes: AttemptOutcome[] = [];
  /** The outcomes the flush is writing now (with `outcomes`, those not yet in the database). */
  private writing: readonly AttemptOutcome[] = [];
  /** Outcomes of attempts: each was its chain's first pending delivery (not one whose event was found purged). */
  private readonly in_order = new WeakSet<AttemptOutcome>();
  private releases: GivenBack[] = [];
  private flush_run: Promise<void> | undefined;
  private readonly attempts = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly base: DispatcherBase) {
    this.owner = `${base.region}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const { queue_per_endpoint_max, concurrency_per_endpoint, lease_ms, timeout_ms } = base.config.webhooks;
    this.lanes = new DeliveryLanes({
      queue_max: queue_per_endpoint_max,
      concurrency: concurrency_per_endpoint,
      start_window_ms: lease_ms - LEASE_SAFETY_MARGIN_MS - timeout_ms,
      timeout_ms,
    });
    // Every attempt in flight listens for the stop: as many as the lanes allow.
    setMaxListeners(concurrency_per_endpoint * base.config.webhooks.endpoints_max, this.stopping.signal);
    this.metrics = createWebhookMetrics(base.metrics, () => new Map([...this.endpoints.keys()].map((id) => [id, this.lanes.depth(id)])));
  }

  /** Delivering starts (the pod runs its background work). */
  start(deps: AppDeps): void {
    this.deps = deps;
  }

  private get running(): boolean {
    return this.deps !== undefined && !this.stopping.signal.aborted;
  }

  /** The poll, as a background task of the pod. */
  task(): PeriodicTask {
    const { poll_interval_ms, claim_batch_max } = this.base.config.webhooks;
    return { name: 'webhook_deliveries', interval_ms: poll_interval_ms, batch_size: claim_batch_max, run: () => this.poll() };
  }

  // ---- the fast path ----

  beforeWrites(unit: Unit): void {
    if (!this.running) return;
    const deliveries = unit.touched(WEBHOOK_DELIVERIES);
    if (!deliveries) return;
    const lease = {
      lease_token: randomUUID(),
      lease_owner: this.owner,
      lease_expires_at: new Date(unit.now_ms + this.base.config.webhooks.lease_ms).toISOString(),
    };
    // What each lane, and each chain of it, can still take (room() and chainRoom()), less what this batch takes.
    const lane_room = new Map<string, number>();
    const chain_room = new Map<string, number>();
    const taken = new Set<string>();
    const no_room = new Map<string, WokenChain>();
    for (const delivery of deliveries.inserted()) {
      const { endpoint_id, account_id } = delivery;
      // An endpoint being probed, or a lane or chain without room, is left to the poll: its deliveries wait in the database.
      const lane_left = lane_room.get(endpoint_id) ?? this.lanes.room(endpoint_id);
      if (this.probing(endpoint_id) || lane_left <= 0) continue;
      if (account_id !== null && delivery.account_seq !== null) {
        const chain = chainKey(endpoint_id, account_id);
        const chain_left = chain_room.get(chain) ?? this.lanes.chainRoom(endpoint_id) - this.lanes.chainDepth(endpoint_id, account_id);
        chain_room.set(chain, chain_left - 1);
        if (chain_left <= 0) {
          no_room.set(chain, { endpoint_id, account_id });
          continue;
        }
        taken.add(chain);
      }
      lane_room.set(endpoint_id, lane_left - 1);
      deliveries.update(delivery.id, lease);
    }
    // Chains of which this batch takes nothing for want of room: the head this pod holds carries them
    // on, unless it is done by the time the batch commits (see takeCommitted).
    this.left_for_room.set(
      unit,
      [...no_room].filter(([chain]) => !taken.has(chain)).map(([, place]) => place),
    );
  }

  committed(unit: Unit, began_ms: number): void {
    if (!this.running) return;
    try {
      this.takeCommitted(unit, began_ms);
    } catch (error) {
      // The batch has committed: its deliveries wait in the database for their leases to run out.
      this.base.logger.error({ err: error }, 'taking the deliveries of a committed batch failed');
    }
  }

  private takeCommitted(unit: Unit, began_ms: number): void {
    for (const endpoint of unit.touched(WEBHOOK_ENDPOINTS)?.all() ?? []) this.noteEndpoint(endpoint);
    // Left in the database for want of room in a chain this pod holds nothing of now: the delivery
    // before them may have been written, and its wake gone by, before this batch committed. Claimed
    // once the batch's own are held, so that the claim counts them in the lane's room.
    const left = (this.left_for_room.get(unit) ?? []).filter((place) => this.lanes.chainDepth(place.endpoint_id, place.account_id) === 0);
    const mine = (unit.touched(WEBHOOK_DELIVERIES)?.inserted() ?? []).filter((delivery) => delivery.lease_owner === this.owner);
    const events = unit.table(EVENTS);
    const deadline_ms = began_ms + this.base.config.webhooks.lease_ms - LEASE_SAFETY_MARGIN_MS;
    const committed_ms = Date.now();
    if (mine.length > 0)
      this.accept(
        mine.map((delivery) => ({
          id: delivery.id,
          endpoint_id: delivery.endpoint_id,
          account_id: delivery.account_id,
          account_seq: delivery.account_seq,
          attempts: 0,
          created_at: delivery.created_at,
          lease_token: delivery.lease_token!,
          deadline_ms,
          event: events.get(delivery.event_id)!,
          committed_ms,
        })),
      );
    this.continueChains(left);
  }

  /** Jobs held here once their order is checked, one check at a time for all that arrived meanwhile. */
  private accept(jobs: readonly DeliveryJob[]): void {
    this.accepting.push(...jobs);
    this.accept_run ??= this.acceptLoop().finally(() => (this.accept_run = undefined));
  }

  /** One order check at a time, for every job taken since the last one. */
  private async acceptLoop(): Promise<void> {
    while (this.accepting.length > 0 && this.running) {
      const taken = this.accepting.splice(0);
      // An endpoint that has begun to be probed since the batch stamped them: they wait in the database.
      this.give(taken.filter((job) => this.probing(job.endpoint_id)));
      const jobs = taken.filter((job) => !this.probing(job.endpoint_id));
      this.give(this.lanes.add(jobs, true));
      const held = jobs.filter((job) => this.lanes.holds(job));
      try {
        await this.checkOrder(held);
      } catch (error) {
        this.base.logger.warn({ err: error }, 'webhook order check failed; the deliveries go back to the poll');
        this.give(this.lanes.removeQueued((job) => held.includes(job)));
      }
      this.lanes.confirm(held);
      this.pump();
    }
    if (!this.running) this.give(this.accepting.splice(0));
  }

  /** Gives back (with what follows them in their chains) the jobs an earlier delivery held elsewhere must precede. */
  private async checkOrder(jobs: readonly DeliveryJob[]): Promise<void> {
    const candidates = jobs.flatMap((job) => {
      if (job.account_id === null || job.account_seq === null) return [];
      const place = { id: job.id, endpoint_id: job.endpoint_id, account_id: job.account_id, account_seq: job.account_seq };
      const before = [this.lanes.heldBefore(place), this.settledBefore(place)].filter((seq) => seq !== null);
      return [{ ...place, held_before_seq: before.length > 0 ? Math.max(...before) : null }];
    });
    if (candidates.length === 0) return;
    const blocked = await this.base.transactions.read((tx) => blockedDeliveries(tx, candidates));
    // Carried on by this pod if what blocks them is done by the time the give-back is written.
    if (blocked.size > 0)
      this.give(
        this.lanes.removeQueued((job) => blocked.has(job.id)),
        [],
        true,
      );
  }

  // ---- the poll ----

  /** Refreshes endpoints and their health, disables endpoints failing too long, claims what waits. */
  async poll(): Promise<number> {
    if (!this.running) return 0;
    await this.refreshEndpoints();
    await this.disableFailing();
    const { lease_ms, claim_scan_max } = this.base.config.webhooks;
    let claimed = 0;
    for (const endpoint of this.endpoints.values()) {
      const limit = this.claimLimit(endpoint.id);
      if (endpoint.status !== 'enabled' || limit === 0) continue;
      const claim = { endpoint_id: endpoint.id, owner: this.owner, lease_ms, token: randomUUID() };
      const sent_ms = Date.now();
      // By due time: a failed probe's delivery waits its pause, so the next probe goes to another account.
      const { heads, set_aside } = await this.base.transactions.read(async (tx) => {
        const found = await claimDeliveries(tx, { ...claim, limit, scan_max: claim_scan_max });
        return { heads: found.claimed, set_aside: await setAside(tx, found.waiting, lease_ms) };
      });
      // Not a series per endpoint polled (inc by 0), nor one again for an endpoint deleted meanwhile.
      if (set_aside > 0 && this.endpoints.has(endpoint.id))
        this.metrics.webhook_deliveries_set_aside_total.inc({ endpoint_id: endpoint.id }, set_aside);
      claimed += heads.length;
      await this.take(heads, claim.token, sent_ms + lease_ms - LEASE_SAFETY_MARGIN_MS, 'in order');
      const accounts = [...new Set(heads.flatMap((head) => (head.account_seq === null ? [] : [head.account_id!])))];
      if (this.probing(endpoint.id) || accounts.length === 0) continue;
      // Whole chains, up to the lane's room and as much of each as can be sent within the lease: a
      // follower left behind is set aside and woken later, two writes more.
      await this.claimChains(endpoint.id, accounts, this.lanes.chainRoom(endpoint.id) - 1);
    }
    this.pump();
    return claimed;
  }

  /**
   * How many deliveries of an endpoint a poll may claim: one probe at a time while it is being
   * probed, once its pause since the last failed probe is over; otherwise up to
   * WEBHOOK_CLAIM_BATCH_MAX held from polls, so that a backlog spreads over the pods instead of
   * filling the lane of whichever pod polls first.
   */
  private claimLimit(endpoint_id: string): number {
    const depth = this.lanes.depth(endpoint_id);
    if (this.probing(endpoint_id)) {
      const paused = Date.now() < this.failing.get(endpoint_id)!.probe_not_before_ms;
      return depth === 0 && !paused ? 1 : 0;
    }
    return Math.max(0, Math.min(this.lanes.room(endpoint_id), this.base.config.webhooks.claim_batch_max - depth));
  }

  /** Claimed deliveries held here: `in order` (none before them is pending) or `to check` like a batch's own. */
  private async take(
    rows: readonly ClaimedDelivery[],
    lease_token: string,
    deadline_ms: number,
    order: 'in order' | 'to check',
  ): Promise<void> {
    if (rows.length === 0) return;
    const events = await this.base.transactions.read((tx) =>
      findEvents(
        tx,
        rows.map((row) => row.event_id),
      ),
    );
    const now = new Date().toISOString();
    const jobs: DeliveryJob[] = [];
    for (const row of rows) {
      const event = events.get(row.event_id);
      if (!event) this.outcomes.push(eventGoneOutcome({ ...row, lease_token }, now));
      else jobs.push({ ...row, lease_token, deadline_ms, event, committed_ms: Date.parse(event.created_at) });
    }
    if (order === 'in order') this.give(this.lanes.add(jobs));
    else this.accept(jobs);
    this.flush();
  }

  private async refreshEndpoints(): Promise<void> {
    const { rows, health } = await this.base.transactions.read(async (tx) => ({
      rows: await tx.rows<Record<string, unknown>>(ENDPOINTS_READ_TEXT, [ENDPOINTS_READ_PARAM]),
      health: await readHealth(tx),
    }));
    const fresh = new Map(rows.map((row) => [row['id'] as string, toEndpointRecord(row)]));
    for (const id of this.endpoints.keys()) if (!fresh.has(id)) this.forgetEndpoint(id);
    const forgotten_before_ms = Date.now() - this.base.config.webhooks.events_settle_window_ms;
    for (const [id, deleted_ms] of this.deleted_at_ms) if (deleted_ms < forgotten_before_ms) this.deleted_at_ms.delete(id);
    for (const endpoint of fresh.values()) this.noteEndpoint(endpoint);
    this.health.clear();
    for (const [id, state] of health) this.health.set(id, state);
    const salts = new Set([...this.endpoints.values()].flatMap((endpoint) => endpoint.secrets.map((secret) => secret.salt)));
    for (const salt of this.secret_values.keys()) if (!salts.has(salt)) this.secret_values.delete(salt);
  }

  /** The newest state of an endpoint this pod has seen (a batch's read, or a poll's). */
  private noteEndpoint(endpoint: EndpointRecord): void {
    const known = this.endpoints.get(endpoint.id);
    if ((known && known.updated_at > endpoint.updated_at) || this.deleted_at_ms.has(endpoint.id)) return;
    if (endpoint.status === 'deleted') {
      this.forgetEndpoint(endpoint.id);
      return;
    }
    // Another receiver: what this pod learnt of the old one (failures, pace, connections) is not its.
    if (known && known.url !== endpoint.url) {
      this.failing.delete(endpoint.id);
      this.lanes.forget(endpoint.id);
      this.agents.get(endpoint.id)?.destroy();
      this.agents.delete(endpoint.id);
    }
    this.endpoints.set(endpoint.id, endpoint);
    // Disabled: nothing more is sent; what this pod held goes back to the database, where it waits.
    if (endpoint.status !== 'enabled') {
      this.failing.delete(endpoint.id);
      this.give(this.lanes.removeQueued((job) => job.endpoint_id === endpoint.id));
    }
  }

  private forgetEndpoint(id: string): void {
    this.deleted_at_ms.set(id, Date.now());
    this.metrics.forget(id);
    this.agents.get(id)?.destroy();
    this.agents.delete(id);
    this.endpoints.delete(id);
    this.failing.delete(id);
    this.lanes.forget(id);
    this.give(this.lanes.removeQueued((job) => job.endpoint_id === id));
  }

  private async disableFailing(): Promise<void> {
    const limit_ms = this.base.config.webhooks.disable_after_seconds * 1000;
    for (const endpoint of this.endpoints.values()) {
      const failing_since = this.health.get(endpoint.id)?.failing_since;
      if (endpoint.status !== 'enabled' || !failing_since || Date.now() - Date.parse(failing_since) < limit_ms) continue;
      if (await disableFailingEndpoint(this.deps!, endpoint.id, failing_since)) {
        this.base.logger.warn({ endpoint_id: endpoint.id, failing_since }, 'webhook endpoint disabled: no delivery succeeded for too long');
      }
    }
  }

  // ---- attempts ----

  private pump(): void {
    if (!this.running) return;
    for (const job of this.lanes.startable()) {
      const attempt = this.attempt(job).catch((error: unknown) => {
        this.base.logger.error({ err: error, delivery_id: job.id }, 'webhook attempt failed unexpectedly');
        this.give(this.lanes.finish(job, false), [job]);
      });
      this.attempts.add(attempt);
      void attempt.finally(() => {
        this.attempts.delete(attempt);
        this.pump();
      });
    }
  }

  private async attempt(job: DeliveryJob): Promise<void> {
    const { timeout_ms, response_bytes_max } = this.base.config.webhooks;
    const endpoint = this.endpoints.get(job.endpoint_id);
    const started_ms = Date.now();
    // Disabled or deleted since it was taken, or too close to the end of its lease to be sure of it: given back.
    const lease_ending = started_ms + timeout_ms > job.deadline_ms;
    if (endpoint?.status !== 'enabled' || lease_ending) {
      // With it go the rest of its chain, which cannot start before it.
      const chain = this.lanes.finish(job, false);
      if (endpoint?.status === 'enabled')
        this.metrics.webhook_deliveries_unsent_total.inc({ endpoint_id: job.endpoint_id }, 1 + chain.length);
      this.give(chain, [job]);
      return;
    }
    const body = eventBody(job.event);
    const secrets = activeSecrets(endpoint.secrets, started_ms).map((secret) => this.secretOf(secret.salt));
    const outcome = await httpCall({
      method: 'POST',
      url: endpoint.url,
      raw_body: body,
      parse_json: false,
      headers: {
        'user-agent': USER_AGENT,
        [SIGNATURE_HEADER]: webhookSignatureHeader(secrets, Math.floor(started_ms / 1000), body),
        'Creditshop-Event-Id': job.event.id,
        'Creditshop-Event-Type': job.event.type,
        'Creditshop-Delivery-Id': job.id,
        'Creditshop-Delivery-Attempt': String(job.attempts + 1),
      },
      timeout_ms,
      response_bytes_max,
      signal: this.stopping.signal,
      agents: this.agentsOf(job.endpoint_id),
    });
    if (outcome.kind === 'aborted') {
      this.give(this.lanes.finish(job, false), [job]);
      return;
    }
    this.judge(job, outcome, started_ms);
  }

  private agentsOf(endpoint_id: string): OutboundAgents {
    let agents = this.agents.get(endpoint_id);
    if (!agents) {
      agents = new OutboundAgents(this.base.config.webhooks.concurrency_per_endpoint);
      this.agents.set(endpoint_id, agents);
    }
    return agents;
  }

  private judge(job: DeliveryJob, outcome: HttpOutcome, started_ms: number): void {
    const ok = outcome.kind === 'answered' && outcome.status >= 200 && outcome.status < 300;
    const now_ms = Date.now();
    const number = job.attempts + 1;
    const verdict = judgeAttempt({ ok, number, created_ms: Date.parse(job.created_at), now_ms }, this.base.config.webhooks);
    const retry_in_ms = verdict.state === 'pending' ? this.probeRetry(job.endpoint_id, ok, verdict.retry_in_ms, now_ms) : 0;
    const error = outcome.kind === 'answered' ? (ok ? null : `status ${outcome.status}`) : `${outcome.kind}: ${outcome.detail}`;
    const labels = { endpoint_id: job.endpoint_id };
    // The pace of answers (and of timeouts): a refused connection says nothing of how long a delivery takes.
    if (outcome.kind === 'answered' || outcome.kind === 'timeout') this.lanes.noteLatency(job.endpoint_id, outcome.latency_ms);
    this.metrics.webhook_attempt_duration_seconds.observe(labels, outcome.latency_ms / 1000);
    this.metrics.webhook_deliveries_total.inc({ ...labels, outcome: verdict.state === 'pending' ? 'retry' : verdict.state });
    if (ok) this.metrics.webhook_delivery_lag_seconds.observe(labels, Math.max(0, now_ms - job.committed_ms) / 1000);
    const attempted: AttemptOutcome = {
      id: job.id,
      lease_token: job.lease_token,
      endpoint_id: job.endpoint_id,
      account_id: job.account_id,
      account_seq: job.account_seq,
      state: verdict.state,
      retry_in_ms,
      entry: {
        attempt: number,
        at: new Date(started_ms).toISOString(),
        status_code: outcome.kind === 'answered' ? outcome.status : null,
        latency_ms: outcome.latency_ms,
        error,
      },
    };
    this.in_order.add(attempted);
    this.outcomes.push(attempted);
    // Delivered or given up: the next of its chain may go. To be retried: the rest of its chain waits with it.
    this.give(this.lanes.finish(job, verdict.state !== 'pending'));
    this.countAttempt(job.endpoint_id, ok);
    this.noteHealth(job.endpoint_id, ok, error);
    this.flush();
  }

  private secretOf(salt: string): string {
    let value = this.secret_values.get(salt);
    if (value === undefined) {
      value = secretValue(this.base.config.webhooks.secrets_key, salt);
      this.secret_values.set(salt, value);
    }
    return value;
  }

  /**
   * When a failed attempt leaves the endpoint probed (WEBHOOK_PROBE_AFTER_FAILURES in a row), the
   * backoff is the endpoint's, not the delivery's: this pod sends its next probe after
   * WEBHOOK_RETRY_BASE_MS doubling per failed probe up to WEBHOOK_PROBE_INTERVAL_MAX_MS (so an
   * endpoint back after a long outage is found within it), and the probed delivery waits only that
   * pause (claims go by due time, so the next probes go to other accounts). Were each probed
   * delivery to back off on its own (up to WEBHOOK_RETRY_MAX_MS), a dead endpoint would, hour after
   * hour, leave the first pending delivery of every account waiting out a backoff, and its backlog
   * would drain only as those backoffs ran out, long after the endpoint came back.
   */
  private probeRetry(endpoint_id: string, ok: boolean, retry_in_ms: number, now_ms: number): number {
    const failures = (this.failing.get(endpoint_id)?.failures_in_row ?? 0) + 1;
    const { probe_after_failures, retry_base_ms, retry_max_ms, probe_interval_max_ms } = this.base.config.webhooks;
    if (ok || failures < probe_after_failures) return retry_in_ms;
    const max_ms = Math.max(retry_base_ms, Math.min(retry_max_ms, probe_interval_max_ms));
    const pause_ms = backoffDelayMs(failures - probe_after_failures + 1, { initial_ms: retry_base_ms, max_ms });
    this.failingEndpoint(endpoint_id).probe_not_before_ms = now_ms + pause_ms;
    return pause_ms;
  }

  private failingEndpoint(endpoint_id: string): FailingEndpoint {
    let failing = this.failing.get(endpoint_id);
    if (!failing) {
      failing = { failures_in_row: 0, probe_not_before_ms: 0 };
      this.failing.set(endpoint_id, failing);
    }
    return failing;
  }

  private probing(endpoint_id: string): boolean {
    return (this.failing.get(endpoint_id)?.failures_in_row ?? 0) >= this.base.config.webhooks.probe_after_failures;
  }

  /**
   * Counts failures in a row. When they reach WEBHOOK_PROBE_AFTER_FAILURES the deliveries held for
   * the endpoint go back to the database unattempted (they keep their due times instead of piling
   * up backoffs) and only a probe is sent at a time, until one succeeds.
   */
  private countAttempt(endpoint_id: string, ok: boolean): void {
    if (ok) {
      if (this.probing(endpoint_id)) this.base.logger.info({ endpoint_id }, 'webhook endpoint answers again: delivering at full pace');
      this.failing.delete(endpoint_id);
      return;
    }
    const failing = this.failingEndpoint(endpoint_id);
    failing.failures_in_row += 1;
    if (failing.failures_in_row === this.base.config.webhooks.probe_after_failures) {
      this.base.logger.warn({ endpoint_id }, 'webhook endpoint keeps failing: probing it with one delivery at a time');
      this.give(this.lanes.removeQueued((job) => job.endpoint_id === endpoint_id));
    }
  }

  /** Writes the turns of an endpoint's health: the first failure after successes, the first success after failures. */
  private noteHealth(endpoint_id: string, ok: boolean, error: string | null): void {
    const failing = this.health.get(endpoint_id)?.failing_since ?? null;
    if (ok === (failing === null)) return;
    this.health.set(
      endpoint_id,
      ok ? { failing_since: null, failure_reason: null } : { failing_since: new Date().toISOString(), failure_reason: error },
    );
    const write = ok
      ? (tx: Parameters<typeof markHealthy>[0]) => markHealthy(tx, endpoint_id)
      : (tx: Parameters<typeof markFailing>[0]) => markFailing(tx, endpoint_id, error ?? 'failed');
    this.base.transactions.read(write).catch((failure: unknown) => {
      this.base.logger.warn({ err: failure, endpoint_id }, 'recording webhook endpoint health failed');
    });
  }

  // ---- writes ----

  /**
   * Jobs (and `also`) go back to the database unattempted: claimable by any pod. `carry_on`: this
   * pod claims them again once written, if nothing before them is pending then (see releaseDeliveries).
   */
  private give(jobs: readonly DeliveryJob[], also: readonly DeliveryJob[] = [], carry_on = false): void {
    const given = [...also, ...jobs];
    if (given.length === 0) return;
    this.releases.push(...given.map((job) => ({ id: job.id, lease_token: job.lease_token, carry_on })));
    this.flush();
  }

  /** One flush at a time; what arrives meanwhile goes with the next (group commit of outcomes). */
  private flush(): void {
    this.flush_run ??= this.flushLoop().finally(() => (this.flush_run = undefined));
  }

  private async flushLoop(): Promise<void> {
    const { flush_rows_max, attempt_log_max } = this.base.config.webhooks;
    for (let failures = 0; this.outcomes.length > 0 || this.releases.length > 0; ) {
      const outcomes = this.outcomes.splice(0, flush_rows_max);
      const releases = this.releases.splice(0, flush_rows_max);
      this.writing = outcomes;
      try {
        const woken = await this.base.transactions.read(async (tx) => [
          ...(await recordAttempts(tx, outcomes, attempt_log_max)),
          ...(await releaseDeliveries(tx, releases)),
        ]);
        failures = 0;
        this.continueChains(woken);
      } catch (error) {
        failures += 1;
        // Never lost: a lease runs out on its own and another attempt follows (at least once).
        if (failures >= FLUSH_TRIES_MAX) {
          this.base.logger.error(
            { err: error, rows: outcomes.length + releases.length },
            'webhook outcomes not written; their leases will run out',
          );
          failures = 0;
          continue;
        }
        this.outcomes.unshift(...outcomes);
        this.releases.unshift(...releases);
        await sleep(backoffDelayMs(failures, FLUSH_RETRY_BACKOFF));
      } finally {
        this.writing = [];
      }
    }
  }

  /**
   * The account_seq of the last delivery of `place`'s chain before it that this pod has delivered
   * or given up and not yet written: still pending in the database, and behind it nothing waits.
   * Without it, an account's next event committed by this pod between an attempt and the flush of
   * its outcome was given back, and the wake (written before that give-back) did not carry it on:
   * it waited for a poll.
   */
  private settledBefore(place: { endpoint_id: string; account_id: string; account_seq: number }): number | null {
    let before: number | null = null;
    for (const unwritten of [this.writing, this.outcomes]) {
      for (const outcome of unwritten) {
        const { endpoint_id, account_id, account_seq, state } = outcome;
        if (state === 'pending' || !this.in_order.has(outcome) || account_seq === null) continue;
        if (endpoint_id !== place.endpoint_id || account_id !== place.account_id) continue;
        if (account_seq < place.account_seq && (before === null || account_seq > before)) before = account_seq;
      }
    }
    return before;
  }

  /**
   * Carries on chains this pod has just delivered the head of, whose next delivery waits in the
   * database (committed by another pod and given back, or left by a poll's claim): claimed at once,
   * with what follows it, rather than at the next poll of some pod. An account whose writes land on
   * every pod would otherwise wait a poll interval per hand-over: under 12 accounts written through
   * three pods, most deliveries did. Its order is checked like a batch's own. Also the chains of
   * deliveries this pod gave back behind a head that another pod has delivered since, or that its
   * batch left in the database behind a head delivered since.
   */
  private continueChains(woken: readonly WokenChain[]): void {
    if (!this.running || woken.length === 0) return;
    const by_endpoint = new Map<string, string[]>();
    for (const { endpoint_id, account_id } of woken) {
      if (this.endpoints.get(endpoint_id)?.status !== 'enabled' || this.probing(endpoint_id)) continue;
      // Even when this pod holds later deliveries of the chain (their order checks will give them back).
      if (by_endpoint.get(endpoint_id)?.includes(account_id)) continue;
      by_endpoint.set(endpoint_id, [...(by_endpoint.get(endpoint_id) ?? []), account_id]);
    }
    for (const [endpoint_id, accounts] of by_endpoint) {
      const continued = this.claimChains(endpoint_id, accounts, this.lanes.chainRoom(endpoint_id)).catch((error: unknown) =>
        this.base.logger.warn({ err: error, endpoint_id }, 'carrying on webhook chains failed; the poll will'),
      );
      this.attempts.add(continued);
      void continued.finally(() => this.attempts.delete(continued));
    }
  }

  /**
   * Claims the pending deliveries of these accounts' chains not held elsewhere, in account order, up
   * to the lane's room and `per_chain` of each, and holds them once their order is checked.
   */
  private async claimChains(endpoint_id: string, accounts: readonly string[], per_chain: number): Promise<void> {
    const { lease_ms } = this.base.config.webhooks;
    const token = randomUUID();
    const claim = { endpoint_id, accounts, owner: this.owner, lease_ms, token, limit: this.lanes.room(endpoint_id), per_chain };
    const sent_ms = Date.now();
    const rows = await this.base.transactions.read((tx) => claimFollowers(tx, claim));
    await this.take(rows, token, sent_ms + lease_ms - LEASE_SAFETY_MARGIN_MS, 'to check');
  }

  /** Stops delivering: attempts in flight are abandoned (given back), held deliveries given back, everything written. */
  async stop(): Promise<void> {
    if (!this.deps) return;
    this.stopping.abort();
    await this.accept_run;
    this.give(this.lanes.removeQueued(() => true));
    await Promise.allSettled([...this.attempts]);
    for (const agents of this.agents.values()) agents.destroy();
    this.agents.clear();
    await this.flush_run;
  }
}
