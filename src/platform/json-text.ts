/**
 * JSON text of a view whose integers may pass 2^53 as BigInt (sums: a system account's balance, a
 * statement's totals). JSON's numbers have no bound, JSON.stringify refuses a BigInt: a view that
 * holds one is written again with each marked as a string, then unquoted to its digits. The
 * marker starts with U+0000, which no stored text holds (PostgreSQL refuses it in text and jsonb),
 * so no string is mistaken for one. Views without a BigInt (nearly all) cost one JSON.stringify.
 */
const BIGINT_MARK = '\u0000bigint:';
const MARKED = /"\\u0000bigint:(-?\d+)"/g;

export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError) || !error.message.includes('BigInt')) throw error;
  }
  const marked = JSON.stringify(value, (_key, field: unknown) => (typeof field === 'bigint' ? `${BIGINT_MARK}${field}` : field));
  return marked.replace(MARKED, '$1');
}
