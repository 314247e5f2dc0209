import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Dialect } from '../db/database.js';
import { plannedByKeys } from '../db/keyed-plans.js';
import { forgetPreparedStatements, runPipeline, type PipelinedStatement } from '../db/pipeline.js';
import type { Queryable } from '../db/sql.js';
import { DatabaseUnavailable, isDatabaseUnavailable, isStalePreparedStatement, sqlState, unavailableKind } from '../db/database-errors.js';
import { backoffMs, isRetryable, type RetryPolicy } from '../db/transaction-runner.js';
import { DomainError } from '../domain/errors.js';
import { isSettleGuardFailure } from '../events/settle-guard.js';
import { IDEMPOTENCY_KEYS_PRIMARY_KEY } from '../idempotency/idempotency-record.js';
import { REMEMBERED_FAILURES } from '../idempotency/remembered-failures.js';
import { replayStored, type StoredKey } from '../idempotency/stored-answer.js';
import type { Logger } from '../platform/logger.js';
import { jsonText } from '../platform/json-text.js';
import type { Metrics } from '../platform/metrics.js';
import { RecordedRefusal, type Operation, type RequestIdempotency, type StoredResponse } from './operation.js';
import { QUEUE_RELEASE, type AccountQueue } from './account-queue.js';
import { loadUnit, mergeNeeds, readStatements, type ReadSet } from './reads.js';
import type { Unit } from './unit.js';
import type { UnitWriter } from './writes.js';

/** How an operation of a batch ended. */
export type Outcome =
  | { kind: 'done'; value: unknown; response?: StoredResponse }
  | { kind: 'failed'; error: unknown; response?: StoredResponse }
  | { kind: 'replayed'; response: StoredResponse };

/** An operation waiting in, or running in, a batch. */
export interface Pending {
  op: Operation<unknown>;
  idempotency: RequestIdempotency | undefined;
  /** The first call answers; a later one (after a bug outside the operations) changes nothing. */
  settle(outcome: Outcome): void;
}

/** Where a batch runs: its region's batcher and that batcher's system-balance shard. */
export interface BatchSlot {
  region: string;
  shard: number;
}

/** Work around a batch's commit that belongs to someone else: webhook deliveries (src/webhooks/dispatcher.ts). */
export interface CommitObserver {
  /** Every operation has decided, nothing is written yet: may amend rows the batch inserts. */
  beforeWrites(unit: Unit): void;
  /** The batch committed; `began_ms`: local clock before its first round trip. */
  committed(unit: Unit, began_ms: number): void;
}

export interface ExecutorSettings {
  pool: pg.Pool;
  dialect: Dialect;
  /** Told when a batch found the database unreachable. */
  onUnreachable: (error: DatabaseUnavailable) => void;
  /** PostgreSQL's queue of hot accounts between pods; undefined on CockroachDB. */
  queue: AccountQueue | undefined;
  writer: UnitWriter;
  observer?: CommitObserver;
  policy: RetryPolicy;
  retention_hours: number;
  metrics: Metrics;
  logger: Logger;
}

type AttemptResult = 'committed' | { retry: unknown } | { split: unknown } | { unavailable: unknown };

const ROLLBACK: PipelinedStatement = { name: 'batch_rollback', text: 'ROLLBACK', values: [] };
const UNIQUE_VIOLATION = '23505';
const PRE_READ = {
  name: 'batch_read_idempotency_keys',
  text: `SELECT k.caller, k.key, k.request_fingerprint, k.status_code, k.response_text, k.response_body
         FROM unnest($1::text[], $2::text[]) AS v(caller, key) JOIN idempotency_keys k ON k.caller = v.caller AND k.key = v.key`,
};

const keyOf = (idempotency: { caller: string; key: string }) => `${idempotency.caller}\n${idempotency.key}`;

/**
 * Runs one batch as ONE serializable transaction in two round trips: (1) BEGIN and every read of
 * every operation, pipelined, while the operations' idempotency keys are looked up on another
 * connection; (2) every write, one statement per table, and COMMIT, pipelined. In between, the
 * operations decide in memory, in arrival order. Each operation keeps its own answer; a
 * serialization failure reruns the batch whole (bounded, jittered); a statement that fails for
 * one operation's data is isolated by splitting the batch in halves until the culprit runs alone.
 */
export class BatchExecutor {
  private readonly key_reads: Queryable;

  constructor(private readonly settings: ExecutorSettings) {
    this.key_reads = plannedByKeys(settings.pool, settings.dialect);
  }

  /** Settles every pending operation exactly once. */
  async execute(batch: readonly Pending[], slot: BatchSlot): Promise<void> {
    const { metrics } = this.settings;
    const started_ns = process.hrtime.bigint();
    metrics.batch_operations.observe({ batch_region: slot.region }, batch.length);
    let connection: pg.PoolClient;
    try {
      connection = await this.settings.pool.connect();
    } catch (error) {
      this.unreachable(batch, error);
      return;
    }
    const broken = (error: unknown) => this.settings.logger.warn({ err: error }, 'batch connection failed');
    connection.on('error', broken);
    let reusable = false;
    try {
      reusable = (await this.runOn(connection, batch, slot)) === undefined;
    } catch (error) {
      // A bug outside every operation's own decision (the writer, an observer): the transaction dies
      // with its connection, and every operation not answered yet fails (a settled one keeps its answer).
      this.settings.logger.error({ err: error }, 'a batch failed outside its operations');
      for (const pending of batch) pending.settle({ kind: 'failed', error });
    } finally {
      connection.off('error', broken);
      connection.release(!reusable);
      metrics.batch_duration_seconds.observe({ batch_region: slot.region }, Number(process.hrtime.bigint() - started_ns) / 1e9);
    }
  }

  /** Settles every operation of `batch`; returns why the connection must not be reused, if it must not. */
  private async runOn(connection: pg.PoolClient, batch: readonly Pending[], slot: BatchSlot): Promise<DatabaseUnavailable | undefined> {
    const { policy, metrics } = this.settings;
    for (let attempt = 1; ; attempt += 1) {
      metrics.batch_attempts_total.inc({ batch_region: slot.region });
      const result = await this.attempt(connection, batch, slot, attempt);
      if (result === 'committed') return undefined;
      if ('unavailable' in result) return this.unreachable(batch, result.unavailable);
      if ('split' in result) return this.isolate(connection, batch, slot, result.split);
      metrics.batch_retries_total.inc({ batch_region: slot.region, sqlstate: sqlState(result.retry) ?? 'unknown' });
      this.settings.queue?.markHot(batch.flatMap((pending) => pending.op.needs.accounts));
      if (attempt >= policy.attempts_max) {
        const error = new DomainError(
          'unavailable',
          `the batch did not commit after ${attempt} attempts; retry with the same Idempotency-Key`,
        );
        for (const pending of batch) pending.settle({ kind: 'failed', error });
        return undefined;
      }
      await sleep(backoffMs(policy, attempt));
    }
  }

  private unreachable(batch: readonly Pending[], cause: unknown): DatabaseUnavailable {
    const error = cause instanceof DatabaseUnavailable ? cause : new DatabaseUnavailable(cause);
    for (const pending of batch) pending.settle({ kind: 'failed', error });
    // A batch that ran out of time (a lock held long on one hot account) says nothing of the others: no pause for the pod.
    if (unavailableKind(error) !== 'timeout') this.settings.onUnreachable(error);
    return error;
  }

  /** A statement failed for some operation's data: halves run on their own until the culprit is alone. */
  private async isolate(
    connection: pg.PoolClient,
    batch: readonly Pending[],
    slot: BatchSlot,
    error: unknown,
  ): Promise<DatabaseUnavailable | undefined> {
    if (batch.length === 1) {
      this.settings.logger.error(
        { err: error, operation: batch[0]!.op.name },
        'a batched operation failed a database statement on its own',
      );
      batch[0]!.settle({ kind: 'failed', error });
      return undefined;
    }
    this.settings.metrics.batch_splits_total.inc({ batch_region: slot.region });
    const middle = Math.ceil(batch.length / 2);
    const lost = await this.runOn(connection, batch.slice(0, middle), slot);
    if (lost === undefined) return this.runOn(connection, batch.slice(middle), slot);
    // The connection is gone with the first half: the second cannot run on it, and is answered as the first was.
    for (const pending of batch.slice(middle)) pending.settle({ kind: 'failed', error: lost });
    return lost;
  }

  /** One try of the batch; a retry (or a batch on a hot account) first queues behind other pods' batches on its accounts. */
  private async attempt(connection: pg.PoolClient, batch: readonly Pending[], slot: BatchSlot, attempt: number): Promise<AttemptResult> {
    const set = mergeNeeds(batch.map((pending) => pending.op.needs));
    const { queue, metrics } = this.settings;
    const queued = queue === undefined ? [] : attempt > 1 ? set.accounts : queue.hotAmong(set.accounts);
    const locked = queued.length > 0;
    if (locked) {
      try {
        await this.roundTrip(connection, queue!.lock(queued));
      } catch (error) {
        return this.abandon(connection, error, { rerun: true, locked });
      }
      metrics.batch_queued_total.inc();
    }
    return this.transact(connection, batch, slot, set, locked);
  }

  /** `locked`: the session holds queue locks, released with the COMMIT (or the ROLLBACK). */
  private async transact(
    connection: pg.PoolClient,
    batch: readonly Pending[],
    slot: BatchSlot,
    set: ReadSet,
    locked: boolean,
  ): Promise<AttemptResult> {
    const began_ms = Date.now();
    const { statements, readers } = readStatements(set, slot.shard, this.settings.dialect);
    // Both settle before anything else happens: a failure of one never leaves the other unobserved.
    const [keys, reads] = await Promise.allSettled([this.storedKeys(batch), this.roundTrip(connection, statements)]);
    if (reads.status === 'rejected') return this.abandon(connection, reads.reason, { locked });
    if (keys.status === 'rejected') return this.abandon(connection, keys.reason, { locked });
    const stored = keys.value;
    let unit: Unit;
    try {
      unit = loadUnit(reads.value, readers, set, slot);
    } catch (error) {
      return this.abandon(connection, error, { locked });
    }
    const decisions = batch.map((pending) => this.decide(unit, pending, pending.idempotency && stored.get(keyOf(pending.idempotency))));
    this.settings.observer?.beforeWrites(unit);
    const writes = this.settings.writer.statements(unit);
    try {
      await this.roundTrip(connection, locked ? [...writes, ...QUEUE_RELEASE] : writes);
    } catch (error) {
      return this.abandon(connection, error, { rerun: isSettleGuardFailure(error, writes), locked });
    }
    for (const [index, pending] of batch.entries()) pending.settle(decisions[index]!);
    this.settings.observer?.committed(unit, began_ms);
    return 'committed';
  }

  /** One operation's decision on the shared state; a failure is undone before the next operation decides. */
  private decide(unit: Unit, pending: Pending, stored: StoredKey | undefined): Outcome {
    const { idempotency } = pending;
    if (idempotency && stored) return replayOf(idempotency, stored);
    const mark = unit.journal.mark();
    try {
      const value = pending.op.decide(unit);
      if (!idempotency) return { kind: 'done', value };
      const response = { status: idempotency.success_status, body: jsonText(value) };
      this.remember(unit, pending, response);
      return { kind: 'done', value, response };
    } catch (error) {
      unit.journal.rollbackTo(mark);
      if (error instanceof RecordedRefusal) this.keep(unit, pending, error);
      if (!idempotency || !(error instanceof DomainError) || !REMEMBERED_FAILURES.has(error.code)) {
        if (!(error instanceof DomainError))
          this.settings.logger.error({ err: error, operation: pending.op.name }, 'operation failed in a batch');
        return { kind: 'failed', error };
      }
      const response = idempotency.renderFailure(error);
      this.remember(unit, pending, response);
      return { kind: 'failed', error, response };
    }
  }

  /** What a refusal records commits with the batch; a failure to record it (a bug) only loses the record. */
  private keep(unit: Unit, pending: Pending, refusal: RecordedRefusal): void {
    const mark = unit.journal.mark();
    try {
      refusal.keep(unit);
    } catch (error) {
      unit.journal.rollbackTo(mark);
      this.settings.logger.error({ err: error, operation: pending.op.name }, 'recording a refusal failed');
    }
  }

  private remember(unit: Unit, pending: Pending, response: StoredResponse): void {
    const idempotency = pending.idempotency!;
    unit.idempotency.insert({
      caller: idempotency.caller,
      key: idempotency.key,
      request_fingerprint: idempotency.fingerprint,
      status_code: response.status,
      response_text: response.body,
      region: unit.region,
      created_at: unit.now,
      expires_at: new Date(unit.now_ms + this.settings.retention_hours * 3_600_000).toISOString(),
    });
  }

  /**
   * The stored answers of the batch's keys, read outside its transaction (committed rows only):
   * inside a serializable transaction on PostgreSQL, key lookups would predicate-lock the index
   * pages every concurrent batch inserts into. A twin committing after this read makes the batch's
   * insert of the same key fail, and the rerun finds it here.
   */
  private async storedKeys(batch: readonly Pending[]): Promise<Map<string, StoredKey>> {
    const keyed = batch.flatMap((pending) => (pending.idempotency ? [pending.idempotency] : []));
    if (keyed.length === 0) return new Map();
    const result = await this.key_reads.query<StoredKey & { caller: string; key: string }>({
      ...PRE_READ,
      values: [keyed.map((key) => key.caller), keyed.map((key) => key.key)],
    });
    this.settings.metrics.db_round_trips_total.inc({ path: 'batch' });
    return new Map(result.rows.map((row) => [keyOf(row), row]));
  }

  private async roundTrip(connection: pg.PoolClient, statements: readonly PipelinedStatement[]): Promise<pg.QueryResult[]> {
    this.settings.metrics.db_round_trips_total.inc({ path: 'batch' });
    return runPipeline(connection, statements);
  }

  /**
   * After a failed round trip: roll back (and let go of the queue locks the session may hold), and
   * say whether to retry (`rerun`: whatever the error), split or give up.
   */
  private async abandon(
    connection: pg.PoolClient,
    error: unknown,
    { rerun = false, locked = false }: { rerun?: boolean; locked?: boolean } = {},
  ): Promise<AttemptResult> {
    const stale = isStalePreparedStatement(error);
    if (!stale && isDatabaseUnavailable(error)) return { unavailable: error };
    try {
      await runPipeline(connection, locked ? [ROLLBACK, ...QUEUE_RELEASE] : [ROLLBACK]);
      // Prepared before a migration changed a table's columns: prepared again by the rerun (no
      // split into single operations that would each fail the same way).
      if (stale) await forgetPreparedStatements(connection);
    } catch (rollback_error) {
      return { unavailable: rollback_error };
    }
    if (stale || rerun || isRetryable(error) || isRacedInsert(error)) return { retry: error };
    return { split: error };
  }
}

/**
 * Rows a concurrent batch inserted after this one looked for them: a twin request's
 * idempotency record, an account opened at the same time, a PSP event or a payout callback
 * delivered twice at once (new rows have nothing to lock).
 * The rerun reads them and replays, or answers already_exists.
 */
const RACED_INSERTS = new Set([IDEMPOTENCY_KEYS_PRIMARY_KEY, 'accounts_pkey', 'psp_events_pkey', 'payout_events_pkey']);

function isRacedInsert(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string; constraint?: string } } | null)?.cause;
  return cause?.code === UNIQUE_VIOLATION && cause.constraint !== undefined && RACED_INSERTS.has(cause.constraint);
}

function replayOf(idempotency: RequestIdempotency, stored: StoredKey): Outcome {
  const replay = replayStored(idempotency, stored);
  return replay instanceof DomainError ? { kind: 'failed', error: replay } : { kind: 'replayed', response: replay };
}
