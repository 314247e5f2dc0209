/**
 * The instants every layer writes the same way: years 0001 to 9999 in UTC. JavaScript writes
 * year 0 as `0000` (PostgreSQL wants `0001 BC`) and years past 9999 as `+010000` (which PostgreSQL
 * reads as a time zone), so an instant outside them would reach the database as an error.
 */
const STORABLE_FROM_MS = Date.parse('0001-01-01T00:00:00.000Z');
const STORABLE_UNTIL_MS = Date.parse('9999-12-31T23:59:59.999Z');

export function isStorableInstant(ms: number): boolean {
  return Number.isFinite(ms) && ms >= STORABLE_FROM_MS && ms <= STORABLE_UNTIL_MS;
}

/**
 * Whether a text starting with an ISO 8601 date names a date that exists and an instant in the
 * range above: Date (and Joi) roll 2026-02-30 over to 2026-03-02, which PostgreSQL refuses.
 */
export function isStorableIsoInstant(text: string, ms: number): boolean {
  const date = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (date) {
    const [year, month, day] = date.slice(1).map(Number) as [number, number, number];
    const found = new Date(0);
    found.setUTCFullYear(year, month - 1, day);
    if (found.getUTCMonth() !== month - 1 || found.getUTCDate() !== day) return false;
  }
  return isStorableInstant(ms);
}
