import { randomInt, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Slots per region (POD_INDEX 0..63): how many pods of one region can each own their system-balance shards. */
export const POD_SLOTS_MAX = 64;
const RENEWALS_PER_LEASE = 3;
/** How soon a pod without a lease of its own asks for one again. */
const UNLEASED_RETRY_MS = 500;

export interface PodSlotSettings {
  transactions: TransactionRunner;
  region: string;
  /** POD_INDEX, when the operator fixed it: nothing is leased. */
  fixed: number | undefined;
  lease_ms: number;
  logger: Logger;
  metrics: Pick<Metrics, 'pod_slot' | 'pod_slot_held'>;
}

/**
 * The slot of its region this pod holds. A slot names the pod's own system-balance shards, which
 * must have one writer: on PostgreSQL two pods writing one shard row under SERIALIZABLE abort each
 * other's batches (measured: with two pods of a region on one slot, 8 of 100 orders of one of them
 * exhausted their retries and answered 503 under the other's load). Replicas of one deployment
 * share their settings, so unless POD_INDEX fixes it a pod leases the lowest free slot of its
 * region at start and renews the lease; should it lose the lease (the database was away for
 * longer than the lease) it leases another. Sharing a slot never breaks the ledger (shards are
 * added up), it only costs retries: until the first lease, and while every slot is taken, the pod
 * uses a random one, and asks for a lease again every half second.
 */
export class PodSlot {
  private current: number;
  /** Whether the lease of `current` is this pod's (set only through hold()). */
  private leased = false;
  private stopped = false;
  private readonly holder = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private keeping: Promise<void> = Promise.resolve();

  constructor(private readonly settings: PodSlotSettings) {
    this.current = settings.fixed ?? randomInt(POD_SLOTS_MAX);
    this.publish();
  }

  /** The slot this pod's batches write their system-balance shards under now. */
  get index(): number {
    return this.current;
  }

  /** Whether no other pod may hold this slot now: leased, or fixed by the operator. */
  get held(): boolean {
    return this.settings.fixed !== undefined || this.leased;
  }

  /** Leases a slot and keeps it leased until stop(). Never throws: a lease the database refused is asked for again at the next renewal. */
  async start(): Promise<void> {
    if (this.settings.fixed !== undefined) return;
    this.keeping = this.keep();
    await this.keeping;
    this.schedule();
  }

  /** Frees the slot for the next pod at once (an abandoned lease frees it when it expires). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.keeping;
    if (!this.leased) return;
    this.hold(this.current, false);
    await this.settings.transactions
      .read((tx) =>
        tx.execute('DELETE FROM pod_slots WHERE region = ? AND slot = ? AND holder = ?', [this.settings.region, this.current, this.holder]),
      )
      .catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    // Without a lease of its own (the database refused, or every slot was taken) the pod shares a
    // slot, which costs retries: it asks again soon rather than at the next renewal.
    const renew_ms = Math.floor(this.settings.lease_ms / RENEWALS_PER_LEASE);
    this.timer = setTimeout(
      () => {
        this.keeping = this.keep().finally(() => this.schedule());
      },
      Math.max(1, this.held ? renew_ms : Math.min(renew_ms, UNLEASED_RETRY_MS)),
    );
    this.timer.unref();
  }

  private async keep(): Promise<void> {
    const { logger } = this.settings;
    try {
      if (this.leased && (await this.renew())) return;
      if (this.leased) logger.warn({ slot: this.current }, 'pod slot lease lost to another pod; leasing another');
      this.hold(this.current, false);
      const slot = await this.lease();
      if (slot === undefined) {
        logger.error({ slots: POD_SLOTS_MAX, slot: this.current }, 'every pod slot of the region is leased; sharing one');
        return;
      }
      this.hold(slot, true);
      logger.info({ slot }, 'pod slot leased');
    } catch (error) {
      // The database is away: the pod keeps writing under the slot it has, which is still its own
      // unless the outage outlasts the lease.
      logger.warn({ err: error, slot: this.current }, 'pod slot lease not renewed');
    }
  }

  private hold(slot: number, leased: boolean): void {
    this.current = slot;
    this.leased = leased;
    this.publish();
  }

  private publish(): void {
    this.settings.metrics.pod_slot.set(this.current);
    this.settings.metrics.pod_slot_held.set(this.held ? 1 : 0);
  }

  private async renew(): Promise<boolean> {
    const renewed = await this.settings.transactions.read((tx) =>
      tx.execute('UPDATE pod_slots SET expires_at = now() + CAST(? AS INTERVAL) WHERE region = ? AND slot = ? AND holder = ?', [
        `${this.settings.lease_ms} milliseconds`,
        this.settings.region,
        this.current,
        this.holder,
      ]),
    );
    return renewed === 1;
  }

  /** The lowest slot whose lease is free or expired, leased in one serializable transaction (racing pods: one wins, the other retries). */
  private async lease(): Promise<number | undefined> {
    const { region, lease_ms } = this.settings;
    return this.settings.transactions.run('lease_pod_slot', async (tx) => {
      const taken = await tx.rows<{ slot: number }>('SELECT slot FROM pod_slots WHERE region = ? AND expires_at > now()', [region]);
      const busy = new Set(taken.map((row) => Number(row.slot)));
      const free = Array.from({ length: POD_SLOTS_MAX }, (_, slot) => slot).find((slot) => !busy.has(slot));
      if (free === undefined) return undefined;
      const rows = await tx.rows<{ slot: number }>(
        `INSERT INTO pod_slots (region, slot, holder, holder_name, expires_at, crdb_region)
         VALUES (?, ?, ?, ?, now() + CAST(? AS INTERVAL), ?)
         ON CONFLICT (region, slot) DO UPDATE
           SET holder = excluded.holder, holder_name = excluded.holder_name, expires_at = excluded.expires_at
           WHERE pod_slots.expires_at <= now()
         RETURNING slot`,
        [region, free, this.holder, `${hostname()}:${process.pid}`, `${lease_ms} milliseconds`, region],
      );
      return rows.length === 1 ? free : undefined;
    });
  }
}
