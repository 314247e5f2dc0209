import { DomainError } from '../domain/errors.js';
import { UUID_PATTERN } from '../domain/ids.js';
import { isStorableIsoInstant } from '../domain/instants.js';
import { isStorableText } from '../domain/text.js';

const CURSOR_VERSION = 1;

/** Opaque page cursors: the sort key of the last item, versioned and base64url encoded. */
export function encodeCursor(key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, ...key])).toString('base64url');
}

/** A PostgreSQL/CockroachDB timestamptz as text, the only form a timestamp cursor may carry. */
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)$/;

/** `uuid`: compared with a UUID column, so anything else would be a database error, not a bad cursor. */
type CursorField = 'string' | 'uuid' | 'number' | 'timestamp';

/**
 * A cursor is client input like any other: each field must be what the database can compare it
 * with (text it can store, a UUID, an instant in its range), or the page query itself would fail.
 */
function validField(type: CursorField, value: unknown): boolean {
  if (type === 'number') return Number.isSafeInteger(value);
  if (typeof value !== 'string' || value.length > 128) return false;
  if (type === 'uuid') return UUID_PATTERN.test(value);
  if (type === 'string') return isStorableText(value);
  return TIMESTAMP_TEXT.test(value) && isStorableIsoInstant(value, Date.parse(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')));
}

export function decodeCursor(cursor: string | undefined, shape: ReadonlyArray<CursorField>): Array<string | number> | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    throw new DomainError('validation_error', 'cursor is not valid');
  }
  const valid =
    Array.isArray(decoded) &&
    decoded[0] === CURSOR_VERSION &&
    decoded.length === shape.length + 1 &&
    shape.every((type, index) => validField(type, decoded[index + 1]));
  if (!valid) throw new DomainError('validation_error', 'cursor is not valid');
  return (decoded as Array<string | number>).slice(1);
}
