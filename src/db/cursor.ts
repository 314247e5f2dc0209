import { DomainError } from '../domain/errors.js';

const CURSOR_VERSION = 1;

/** Opaque page cursors: the sort key of the last item, versioned and base64url encoded. */
export function encodeCursor(key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, ...key])).toString('base64url');
}

/** A PostgreSQL/CockroachDB timestamptz as text, the only form a timestamp cursor may carry. */
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)$/;

type CursorField = 'string' | 'number' | 'timestamp';

function validField(type: CursorField, value: unknown): boolean {
  if (type === 'number') return Number.isSafeInteger(value);
  if (typeof value !== 'string' || value.length > 128) return false;
  return (
    type === 'string' || (TIMESTAMP_TEXT.test(value) && !Number.isNaN(Date.parse(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'))))
  );
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
