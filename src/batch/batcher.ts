import { DatabaseUnavailable } from '../db/database-errors.js';
import { DomainError } from '../domain/errors.js';
import type { BatchExecutor, Outcome, Pending } from './executor.js';
import type { Operation, RequestAnswer, RequestIdempotency } from './operation.js';

export interface BatchLimits {
  /** Operations in one batch at most. */
  operations_max: number;
  /** Request bytes in one batch at most (a single larger operation still runs, alone). */
  bytes_max: number;
  /** Operations waiting in this pod, all regions together, before new ones are refused with 503. */
  queued_max: number;
}

interface Queued extends Pending {
  bytes: number;
}

/** The accounts of the batches running in this pod: an operation on one of them waits for the next batch. */
class AccountGate {
  private readonly busy = new Map<string, number>();

  isBusy(account: string): boolean {
    return this.busy.has(account);
  }

  acquire(accounts: Iterable<string>): void {
    for (const account of accounts) this.busy.set(account, (this.busy.get(account) ?? 0) + 1);
  }

  release(accounts: Iterable<string>): void {
    for (const account of accounts) {
      const count = this.busy.get(account)! - 1;
      if (count === 0) this.busy.delete(account);
      else this.busy.set(account, count);
    }
  }
}

class RegionQueue {
  readonly waiting: Queued[] = [];
  running = false;

  constructor(readonly region: string) {}
}

/**
 * The pod's write path: one batcher per batch region (see `batchRegionOf`). An operation waits
 * while a batch of its region is committing and goes into the next one; a batch starts as soon
 * as the previous one commits, or at once when none is running (so at low load nothing waits for
 * a timer). One batch at a time per batcher: a full batch of BATCH_OPERATIONS_MAX commits in two
 * round trips, far more than a pod can serve over HTTP meanwhile, and each batcher owns one
 * system-balance shard that no other batch writes. An operation whose account is in a running
 * batch (of another region's batcher) waits for the batch after it, so the pod's own batches
 * never conflict with each other and operations of one account keep their arrival order.
 */
export class WritePath {
  private readonly queues = new Map<string, RegionQueue>();
  private readonly gate = new AccountGate();
  private readonly requests_in_flight = new Map<string, { fingerprint: string; answer: Promise<RequestAnswer> }>();
  private queued = 0;
  private readonly idle_waiters: Array<() => void> = [];
  /** Until then the database is known to be unreachable: operations are refused at once instead of waiting on it. */
  private unreachable_until_ms = 0;

  constructor(
    private readonly executor: BatchExecutor,
    private readonly limits: BatchLimits,
    /** The system-balance shard of a batch region's batcher in this pod. */
    private readonly shardOf: (region: string) => number,
    /** How long, after a batch found the database unreachable, new operations are answered 503 at once. */
    private readonly unreachable_pause_ms: number,
    /** The batcher of an operation whose rows live in a home region. */
    private readonly batchRegionOf: (home_region: string) => string,
  ) {}

  /**
   * A batch found the database unreachable: for a short pause every operation waiting, and every
   * new one, is answered 503 at once (safe to retry with the same key) rather than each batch
   * waiting out connect and query timeouts; the first batch after the pause probes it again.
   */
  databaseUnreachable(error: DomainError): void {
    this.unreachable_until_ms = Date.now() + this.unreachable_pause_ms;
    for (const queue of this.queues.values()) {
      const waiting = queue.waiting.splice(0);
      this.queued -= waiting.length;
      for (const pending of waiting) pending.settle({ kind: 'failed', error });
    }
  }

  /** Operations waiting for a batch, all regions (a gauge). */
  get depth(): number {
    return this.queued;
  }

  /** Runs an operation without an Idempotency-Key (workers, partner callbacks); rejects with its failure. */
  run<T>(op: Operation<T>, bytes = 0): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue({
        op: op as Operation<unknown>,
        idempotency: undefined,
        bytes,
        settle: (outcome) => (outcome.kind === 'done' ? resolve(outcome.value as T) : reject(errorOf(outcome))),
      });
    });
  }

  /**
   * Runs a client request exactly once per (caller, Idempotency-Key): its answer (or a remembered
   * business failure) is stored with its effect. A twin arriving while it runs in this pod waits
   * for its answer and replays it; a different request under the same key gets 409.
   */
  request<T>(op: Operation<T>, idempotency: RequestIdempotency, bytes = 0): Promise<RequestAnswer> {
    const key = `${idempotency.caller}\n${idempotency.key}`;
    const twin = this.requests_in_flight.get(key);
    if (twin) {
      if (twin.fingerprint !== idempotency.fingerprint) {
        return Promise.reject(
          new DomainError('idempotency_key_in_flight', 'a different request with this Idempotency-Key is still running'),
        );
      }
      return twin.answer.then((answer) => ({ ...answer, replayed: true }));
    }
    const answer = new Promise<RequestAnswer>((resolve, reject) => {
      this.enqueue({ op: op as Operation<unknown>, idempotency, bytes, settle: (outcome) => answerOf(outcome, resolve, reject) });
    });
    this.requests_in_flight.set(key, { fingerprint: idempotency.fingerprint, answer });
    const forget = () => this.requests_in_flight.delete(key);
    answer.then(forget, forget);
    return answer;
  }

  /** Resolves once nothing waits and no batch runs (the pod is draining). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle_waiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.queued === 0 && [...this.queues.values()].every((queue) => !queue.running);
  }

  private enqueue(pending: Queued): void {
    if (Date.now() < this.unreachable_until_ms) {
      pending.settle({ kind: 'failed', error: new DatabaseUnavailable(new Error('the last batch found the database unreachable')) });
      return;
    }
    if (this.queued >= this.limits.queued_max) {
      pending.settle({
        kind: 'failed',
        error: new DomainError('unavailable', 'too many operations are waiting; retry with the same Idempotency-Key'),
      });
      return;
    }
    const region = this.batchRegionOf(pending.op.region);
    let queue = this.queues.get(region);
    if (!queue) {
      queue = new RegionQueue(region);
      this.queues.set(region, queue);
    }
    queue.waiting.push(pending);
    this.queued += 1;
    this.pump(queue);
  }

  private pump(queue: RegionQueue): void {
    if (queue.running || queue.waiting.length === 0) return;
    const batch = this.take(queue);
    if (batch.length > 0) this.start(queue, batch);
  }

  /** The next batch: waiting operations in arrival order, skipping (with every later one on the same account) those on busy accounts. */
  private take(queue: RegionQueue): Queued[] {
    const batch: Queued[] = [];
    const rest: Queued[] = [];
    const held_back = new Set<string>();
    let bytes = 0;
    for (const pending of queue.waiting) {
      const accounts = pending.op.needs.accounts;
      const full = batch.length >= this.limits.operations_max || (batch.length > 0 && bytes + pending.bytes > this.limits.bytes_max);
      if (full || accounts.some((account) => held_back.has(account) || this.gate.isBusy(account))) {
        for (const account of accounts) held_back.add(account);
        rest.push(pending);
        continue;
      }
      batch.push(pending);
      bytes += pending.bytes;
    }
    queue.waiting.splice(0, queue.waiting.length, ...rest);
    this.queued -= batch.length;
    return batch;
  }

  private start(queue: RegionQueue, batch: Queued[]): void {
    const accounts = new Set(batch.flatMap((pending) => pending.op.needs.accounts));
    queue.running = true;
    this.gate.acquire(accounts);
    void this.executor.execute(batch, { region: queue.region, shard: this.shardOf(queue.region) }).finally(() => {
      queue.running = false;
      this.gate.release(accounts);
      // Released accounts may unblock operations of any region.
      for (const other of this.queues.values()) this.pump(other);
      if (this.isIdle()) for (const wake of this.idle_waiters.splice(0)) wake();
    });
  }
}

function errorOf(outcome: Outcome): unknown {
  return outcome.kind === 'failed' ? outcome.error : new Error(`unexpected outcome ${outcome.kind} for an operation without a key`);
}

function answerOf(outcome: Outcome, resolve: (answer: RequestAnswer) => void, reject: (error: unknown) => void): void {
  if (outcome.kind === 'replayed') resolve({ ...outcome.response, replayed: true });
  else if (outcome.response) resolve({ ...outcome.response, replayed: false });
  else reject(outcome.kind === 'failed' ? outcome.error : new Error('a request finished without an answer'));
}
