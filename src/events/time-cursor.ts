import { decodeCursor, encodeCursor } from '../db/cursor.js';

/**
 * Cursors of lists paged on (created_at, id) with server-made UUID ids: the timestamp as the
 * database's text (microseconds kept).
 */
export function decodeTimeCursor(cursor: string | undefined): [string, string] | undefined {
  return decodeCursor(cursor, ['timestamp', 'uuid']) as [string, string] | undefined;
}

export function encodeTimeCursor(row: Record<string, unknown> | undefined): string | null {
  return row ? encodeCursor([row['created_at'] as string, row['id'] as string]) : null;
}
