import type { Knex } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvariantViolation } from '../domain/errors.js';

export type SqlParam = string | number | boolean | null | Date | string[] | Record<string, unknown> | unknown[];

export interface TxContext {
  /** Region of the pod running the transaction. */
  region: string;
  /** The system-balance shard this transaction may write without racing another of this pod. */
  shard: number;
}

/**
 * The database handle a use case gets inside a transaction. Queries use `?` placeholders and
 * are sent with bind parameters (never interpolated); an array parameter travels as one
 * PostgreSQL array, for `= ANY(?::text[])`. The ORM entity manager of the same transaction is
 * available for entity work.
 */
export class SqlTx {
  constructor(
    readonly em: EntityManager,
    private readonly connection: Knex | Knex.Transaction,
    readonly context: TxContext,
  ) {}

  async rows<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const result = (await this.connection.raw(sql, params as Knex.RawBinding[])) as { rows: T[] };
    return result.rows;
  }

  async maybeOne<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    const rows = await this.rows<T>(sql, params);
    if (rows.length > 1) throw new InvariantViolation(`expected at most one row, got ${rows.length}: ${sql}`);
    return rows[0];
  }

  async one<T>(sql: string, params: readonly SqlParam[] = []): Promise<T> {
    const row = await this.maybeOne<T>(sql, params);
    if (row === undefined) throw new InvariantViolation(`expected one row, got none: ${sql}`);
    return row;
  }

  async execute(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    const result = (await this.connection.raw(sql, params as Knex.RawBinding[])) as { rowCount: number | null };
    return result.rowCount ?? 0;
  }
}

/** node-postgres returns INT8 as a string; this is the one place that turns it into a number. */
export function int8(value: string | number | bigint | null | undefined): number {
  if (value === null || value === undefined) throw new InvariantViolation('INT8 value is null');
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(parsed)) throw new InvariantViolation(`INT8 value ${String(value)} is not a safe integer`);
  return parsed;
}

/** Timestamps come back as PostgreSQL text ('2026-11-22 08:30:00.123456+00'); the API speaks RFC 3339 UTC. */
export function timestamp(value: string | Date): string {
  if (value instanceof Date) return value.toISOString();
  const iso = value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const parsed = new Date(iso);
  if (Number.isNaN(parsed.getTime())) throw new InvariantViolation(`unparseable timestamp ${value}`);
  return parsed.toISOString();
}
