import type pg from 'pg';
import { InvariantViolation } from '../domain/errors.js';
import { asUnavailable } from './database-errors.js';

export type SqlParam = string | number | boolean | null | Date | string[] | Record<string, unknown> | unknown[];

/** A pooled client inside a transaction, or the pool itself for single autocommit statements. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

interface CompiledStatement {
  text: string;
  /** Unnamed beyond the cap: parsed on every execution instead of once per connection. */
  name: string | undefined;
}

/** Distinct statement texts one Database prepares: a fixed set, since SQL is never built from values. */
const PREPARED_NAMES_MAX = 2_000;

/**
 * The named prepared statements of one Database. `?` placeholders become `$n` (quoted strings
 * left alone), and each distinct statement text is a named prepared statement, so PostgreSQL and
 * CockroachDB parse and plan it once per connection instead of on every execution. A name must
 * mean the same text on every connection that may have prepared it, so the names belong to the
 * Database whose pools own those connections.
 */
export class PreparedStatements {
  private readonly by_sql = new Map<string, CompiledStatement>();

  compile(sql: string): CompiledStatement {
    const cached = this.by_sql.get(sql);
    if (cached) return cached;
    const compiled = { text: numberedPlaceholders(sql), name: this.by_sql.size < PREPARED_NAMES_MAX ? `cs${this.by_sql.size}` : undefined };
    this.by_sql.set(sql, compiled);
    return compiled;
  }
}

/** `?` placeholders as `$1, $2, …`, quoted strings left alone. */
export function numberedPlaceholders(sql: string): string {
  let index = 0;
  let quoted = false;
  let text = '';
  for (const character of sql) {
    if (character === "'") quoted = !quoted;
    text += character === '?' && !quoted ? `$${++index}` : character;
  }
  return text;
}

/**
 * The database handle a use case gets: a transaction's connection, or the pool for single
 * statements. Queries use `?` placeholders and are sent with bind parameters (never
 * interpolated); an array parameter travels as one PostgreSQL array, for `= ANY(?::text[])`.
 * Every statement of the application passes here, so this is where a database that cannot serve
 * becomes DomainError `unavailable` (503): no use case or route can forget it.
 */
export class SqlTx {
  constructor(
    private readonly connection: Queryable,
    private readonly statements: PreparedStatements,
    /** Counts the statement's round trip (metrics), when the caller keeps count. */
    private readonly onRoundTrip: () => void = () => undefined,
  ) {}

  async rows<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return (await this.query<T & pg.QueryResultRow>(sql, params)).rows;
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
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: readonly SqlParam[]): Promise<pg.QueryResult<R>> {
    const { text, name } = this.statements.compile(sql);
    this.onRoundTrip();
    try {
      return await this.connection.query<R>({ text, name, values: params as unknown[] });
    } catch (error) {
      throw asUnavailable(error);
    }
  }
}

/** node-postgres returns INT8 as a string; this is the one place that turns it into a number. */
export function int8(value: string | number | bigint | null | undefined): number {
  if (value === null || value === undefined) throw new InvariantViolation('INT8 value is null');
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(parsed)) throw new InvariantViolation(`INT8 value ${String(value)} is not a safe integer`);
  return parsed;
}

/**
 * A SUM of INT8s, exact: a number while it is a safe integer, a BigInt past 2^53 (a system
 * account's balance, a statement's totals grow without bound; the JSON writer prints either).
 */
export function int8Total(value: string | null): number | bigint {
  if (value === null) return 0;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : BigInt(value);
}

/**
 * An INT8 or a SUM as a report shows it: a number while safe, its digits past 2^53 (reconciliation
 * must report any corruption, not fail on it).
 */
export function int8Exact(value: string | null): number | string {
  const total = int8Total(value);
  return typeof total === 'bigint' ? total.toString() : total;
}

/** Timestamps come back as Date or PostgreSQL text ('2026-11-22 08:30:00.123456+00'); the API speaks RFC 3339 UTC. */
export function timestamp(value: string | Date): string {
  if (value instanceof Date) return value.toISOString();
  const iso = value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const parsed = new Date(iso);
  if (Number.isNaN(parsed.getTime())) throw new InvariantViolation(`unparseable timestamp ${value}`);
  return parsed.toISOString();
}

export function optionalInt8(value: unknown): number | null {
  return value === null || value === undefined ? null : int8(value as string);
}

export function optionalTimestamp(value: unknown): string | null {
  return value === null || value === undefined ? null : timestamp(value as string);
}
