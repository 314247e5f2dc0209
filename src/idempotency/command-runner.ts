import { DomainError, type ErrorCode } from '../domain/errors.js';
import type { RequestIdempotency } from '../batch/operation.js';
import type { RunOptions, TransactionRunner } from '../db/transaction-runner.js';
import type { SqlTx } from '../db/sql.js';
import { REMEMBERED_FAILURES } from './remembered-failures.js';

/** What identifies one client request for exactly-once execution (SPEC §4). */
export interface IdempotencyScope extends RequestIdempotency {
  error_status: (code: ErrorCode) => number;
}

export interface CommandResult<T> {
  status: number;
  body: T;
  replayed: boolean;
}

/** Where the idempotency record lives: the home region of the account the command acts on. */
export interface RecordPlacement {
  region: string;
}

/** A stored failure answered again for a retried request. */
export class ReplayedFailure extends DomainError {}

interface StoredRecord {
  request_fingerprint: string;
  status_code: number;
  response_body: { ok: true; body: unknown } | { ok: false; code: ErrorCode; detail: string; extensions?: Record<string, unknown> };
}

const UNIQUE_VIOLATION = '23505';

/**
 * Runs a write command exactly once per (caller, Idempotency-Key): the effect and the record of
 * its response, under the key's primary key, commit in ONE serializable transaction, so two
 * duplicates can never both commit; the loser of a race fails on the key, retries, finds the
 * record and replays it.
 */
export class CommandRunner {
  constructor(
    private readonly runner: TransactionRunner,
    private readonly default_region: string,
    private readonly retention_hours: number,
  ) {}

  async run<T>(
    name: string,
    scope: IdempotencyScope,
    work: (tx: SqlTx, placement: RecordPlacement) => Promise<T>,
    options: RunOptions = {},
  ): Promise<CommandResult<T>> {
    // The first lookup reads outside the serializable transaction: on PostgreSQL a key lookup
    // inside it would predicate-lock an index page that every concurrent command inserts into,
    // turning unrelated commands into serialization failures. The unique key alone decides.
    const stored = await this.runner.read((tx) => this.find(tx, scope));
    if (stored) return replay<T>(stored);
    let attempts = 0;
    try {
      return await this.runner.run(name, (tx) => this.once(tx, scope, work, ++attempts > 1), options);
    } catch (error) {
      if (error instanceof DomainError && !(error instanceof ReplayedFailure) && REMEMBERED_FAILURES.has(error.code)) {
        return this.rememberFailure<T>(name, scope, error);
      }
      throw error;
    }
  }

  private async once<T>(tx: SqlTx, scope: IdempotencyScope, work: (tx: SqlTx, placement: RecordPlacement) => Promise<T>, retry: boolean) {
    if (retry) {
      const stored = await this.find(tx, scope);
      if (stored) return replay<T>(stored);
    }
    const placement: RecordPlacement = { region: this.default_region };
    const body = await work(tx, placement).catch(retryOnUniqueViolation);
    const inserted = await this.insert(tx, scope, placement, scope.success_status, { ok: true, body });
    if (inserted.length === 0) throw twinCommitted();
    return { status: scope.success_status, body, replayed: false };
  }

  private async find(tx: SqlTx, scope: IdempotencyScope): Promise<StoredRecord | undefined> {
    const stored = await tx.maybeOne<StoredRecord>(
      'SELECT request_fingerprint, status_code, response_body FROM idempotency_keys WHERE caller = ? AND key = ?',
      [scope.caller, scope.key],
    );
    if (stored && stored.request_fingerprint !== scope.fingerprint) {
      throw new DomainError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
    }
    return stored;
  }

  private async insert(
    tx: SqlTx,
    scope: IdempotencyScope,
    placement: RecordPlacement,
    status: number,
    body: StoredRecord['response_body'],
  ) {
    return tx.rows<{ key: string }>(
      `INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, response_body, crdb_region, expires_at)
       VALUES (?, ?, ?, ?, ?::jsonb, ?, now() + CAST(? AS INTERVAL))
       ON CONFLICT (caller, key) DO NOTHING RETURNING key`,
      [scope.caller, scope.key, scope.fingerprint, status, JSON.stringify(body), placement.region, `${this.retention_hours} hours`],
    );
  }

  /** Records a business-rule failure under the key, unless a twin already recorded an outcome. */
  private async rememberFailure<T>(name: string, scope: IdempotencyScope, error: DomainError): Promise<CommandResult<T>> {
    const twin = await this.runner.run(`${name}:failure`, async (tx) => {
      const body = { ok: false as const, code: error.code, detail: error.detail, extensions: error.extensions };
      const inserted = await this.insert(tx, scope, { region: this.default_region }, scope.error_status(error.code), body);
      return inserted.length === 1 ? undefined : this.find(tx, scope);
    });
    if (twin) return replay<T>(twin);
    throw error;
  }
}

function replay<T>(stored: StoredRecord): CommandResult<T> {
  const response = stored.response_body;
  if (!response.ok) throw new ReplayedFailure(response.code, response.detail, response.extensions ?? {});
  return { status: stored.status_code, body: response.body as T, replayed: true };
}

/** A twin committed the same key first: the transaction is run again, finds its record and replays it. */
export function twinCommitted(cause?: unknown): Error {
  return Object.assign(new Error('a concurrent duplicate committed first'), { code: '40001', cause });
}

/** A unique violation inside an idempotent command means a twin committed first. */
function retryOnUniqueViolation(error: unknown): never {
  throw (error as { code?: unknown } | null)?.code === UNIQUE_VIOLATION ? twinCommitted(error) : error;
}
