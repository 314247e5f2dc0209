/**
 * JSON text of a view whose integers may pass 2^53 as BigInt (sums: a system account's balance, a
 * statement's totals). JSON's numbers have no bound, JSON.stringify refuses a BigInt: each is
 * written as a marked string, then unquoted to its digits. The marker starts with U+0000, which no
 * stored text holds (PostgreSQL refuses it in text and jsonb), so no string is mistaken for one.
 */
const BIGINT_MARK = '\u0000bigint:';
const MARKED = /"\\u0000bigint:(-?\d+)"/g;

export function jsonText(value: unknown): string {
  let marked = false;
  const text = JSON.stringify(value, (_key, field: unknown) => {
    if (typeof field !== 'bigint') return field;
    marked = true;
    return `${BIGINT_MARK}${field}`;
  });
  return marked ? text.replace(MARKED, '$1') : text;
}
