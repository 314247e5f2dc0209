import { DomainError } from '../domain/errors.js';

const DAY_MS = 86_400_000;

/** A half-open time range [from, to) of a statement, export or report, as validated RFC 3339 instants. */
export interface TimeRange {
  from: string;
  to: string;
}

/**
 * Checks a range: `from` before `to`, `from` not beyond now (what has not happened cannot be
 * stated), and at most `max_days` long (every statement, export and report is bounded). A range
 * reaching into the last EVENTS_SETTLE_WINDOW_MS may still gain rows: a transaction is stamped
 * when its batch starts and commits up to half that window later (README, Statements).
 */
export function timeRange(from: Date, to: Date, max_days: number, now_ms: number): TimeRange {
  if (from.getTime() >= to.getTime()) throw new DomainError('validation_error', '"from" must be before "to"');
  if (to.getTime() - from.getTime() > max_days * DAY_MS)
    throw new DomainError('validation_error', `the range is longer than ${max_days} days`);
  if (from.getTime() > now_ms) throw new DomainError('validation_error', '"from" is in the future');
  return { from: from.toISOString(), to: to.toISOString() };
}

/** An instant in the past (or now): balances of the future are not known. */
export function pastInstant(at: Date, now_ms: number): string {
  if (at.getTime() > now_ms) throw new DomainError('validation_error', '"as_of" is in the future');
  return at.toISOString();
}
