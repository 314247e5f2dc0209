import { DomainError } from '../domain/errors.js';

/** SQLSTATE classes of a database that cannot serve now: 08 connection exception, 57P operator intervention, 53 resources. */
const UNAVAILABLE_SQLSTATE_PREFIXES = ['08', '57P', '53'];
/**
 * query_canceled (statement_timeout), idle_in_transaction_session_timeout and lock_not_available (a
 * server's lock_timeout): the session outlived its bounds; read_only_sql_transaction: the server
 * takes no writes now (a standby promoted or not yet, an operator's default_transaction_read_only).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57014', '25P03', '55P03', '25006']);
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/**
 * A statement prepared on a connection before a migration changed the columns it returns (a
 * `SELECT *` of a table that gained one while pods run): both engines refuse it (0A000) at every
 * execution on that connection until it is prepared again. The connection is dropped like a broken
 * one, so the next prepares it afresh; the batch path prepares again on the same connection.
 */
const STALE_PREPARED_STATEMENT = 'cached plan must not change result type';

export function isStalePreparedStatement(error: unknown): boolean {
  return error instanceof Error && error.message.includes(STALE_PREPARED_STATEMENT);
}

/**
 * node-postgres failures that carry no code: no pool slot or connection in time (a client's own
 * connect timeout says only "timeout expired"), a client whose socket broke or that the server
 * dropped, a query the server never answered (query_timeout), a pool that is closing; and knex's
 * (migrations, through MikroORM) when no connection came in time.
 */
const UNAVAILABLE_MESSAGES = new RegExp(
  [
    'timeout exceeded when trying to connect',
    'Timeout acquiring a connection',
    '^timeout expired$',
    'Connection terminated',
    'not queryable',
    'Query read timeout',
    'Cannot use a pool after calling end',
    STALE_PREPARED_STATEMENT,
  ].join('|'),
);
/** Causes and aggregated errors (a refused IPv4 and IPv6 connect) are looked into this deep. */
const CAUSE_DEPTH_MAX = 4;

/** The database cannot serve now; safe to retry later with the same Idempotency-Key. */
export class DatabaseUnavailable extends DomainError {
  constructor(override readonly cause: unknown) {
    super('unavailable', `${unavailableReason(cause)}; retry with the same Idempotency-Key`);
  }
}

/** Why the database cannot serve: a database that answers, but not in time or not for writes, is not an unreachable one. */
export type UnavailableKind = 'timeout' | 'read_only' | 'unreachable';

export function unavailableKind(cause: unknown): UnavailableKind {
  const state = firstSqlState(cause);
  if (state === '57014' || state === '55P03') return 'timeout';
  return state === '25006' ? 'read_only' : 'unreachable';
}

/** The first SQLSTATE (or socket error code) of an error or of the causes it wraps, as isDatabaseUnavailable reads them. */
function firstSqlState(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > CAUSE_DEPTH_MAX) return undefined;
  const state = error instanceof DomainError ? undefined : sqlState(error);
  return state ?? firstSqlState((error as { cause?: unknown }).cause, depth + 1);
}

// What an operator reading the answer should look at.
const UNAVAILABLE_REASONS: Record<UnavailableKind, string> = {
  timeout: 'the database did not finish in time (a statement or lock timeout)',
  read_only: 'the database takes no writes now (read-only)',
  unreachable: 'the database is unreachable',
};

function unavailableReason(cause: unknown): string {
  return UNAVAILABLE_REASONS[unavailableKind(cause)];
}

/** The SQLSTATE of a database error, or the Node error code of a socket error. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` means the database is unreachable, stalled, restarting or out of resources (not a bug, not a conflict). */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error instanceof DatabaseUnavailable) return true;
  if (typeof error !== 'object' || error === null || depth > CAUSE_DEPTH_MAX) return false;
  const state = sqlState(error);
  if (state !== undefined && !(error instanceof DomainError)) {
    if (UNAVAILABLE_SQLSTATES.has(state) || UNAVAILABLE_NODE_CODES.has(state)) return true;
    if (UNAVAILABLE_SQLSTATE_PREFIXES.some((prefix) => state.startsWith(prefix))) return true;
  }
  if (error instanceof Error && UNAVAILABLE_MESSAGES.test(error.message)) return true;
  const nested = [(error as { cause?: unknown }).cause, ...(((error as { errors?: unknown }).errors as unknown[] | undefined) ?? [])];
  return nested.some((inner) => isDatabaseUnavailable(inner, depth + 1));
}

/** The error to throw for `error`: DatabaseUnavailable when the database cannot serve, else `error` itself. */
export function asUnavailable(error: unknown): unknown {
  return !(error instanceof DatabaseUnavailable) && isDatabaseUnavailable(error) ? new DatabaseUnavailable(error) : error;
}
