import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { DomainError } from '../domain/errors.js';
import { UUID_PATTERN } from '../domain/ids.js';

/**
 * Cursors of lists paged on (created_at, id) with server-made UUID ids: the timestamp as the
 * database's text (microseconds kept), the id checked before it reaches a uuid comparison.
 */
export function decodeTimeCursor(cursor: string | undefined): [string, string] | undefined {
  const decoded = decodeCursor(cursor, ['timestamp', 'string']) as [string, string] | undefined;
  if (decoded && !UUID_PATTERN.test(decoded[1])) throw new DomainError('validation_error', 'cursor is not valid');
  return decoded;
}

export function encodeTimeCursor(row: Record<string, unknown> | undefined): string | null {
  return row ? encodeCursor([row['created_at'] as string, row['id'] as string]) : null;
}
