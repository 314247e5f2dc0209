import { DomainError } from '../domain/errors.js';

const CURSOR_VERSION = 1;

/** Opaque page cursors: the sort key of the last item, versioned and base64url encoded. */
export function encodeCursor(key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, ...key])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, shape: ReadonlyArray<'string' | 'number'>): Array<string | number> | undefined {
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
    shape.every((type, index) => typeof decoded[index + 1] === type && (type === 'string' ? decoded[index + 1].length <= 128 : Number.isSafeInteger(decoded[index + 1])));
  if (!valid) throw new DomainError('validation_error', 'cursor is not valid');
  return (decoded as Array<string | number>).slice(1);
}
