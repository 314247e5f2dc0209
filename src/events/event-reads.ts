import { hasScope, requireAccountRead, requireReadScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { int8, type SqlParam, type SqlTx } from '../db/sql.js';
import { notFound } from '../domain/errors.js';
import { playerTransactionView } from '../ledger/ledger-reads.js';
import type { TransactionView } from '../ledger/views.js';
import type { AppDeps } from '../platform/deps.js';
import { eventView, toEventRecord, type EventRecord } from './event-records.js';
import { decodeTimeCursor, encodeTimeCursor } from './time-cursor.js';

export interface EventQuery {
  type?: string[];
  account_id?: string;
  created_after?: string;
  created_before?: string;
  limit: number;
  cursor?: string;
}

/** An event as the caller may see it: a player sees a transaction's legs without other players' balances. */
function visibleView(actor: Actor, event: EventRecord) {
  if (actor.kind !== 'player' || event.type !== 'transaction.posted') return eventView(event);
  return eventView(event, playerTransactionView(JSON.parse(event.data_json) as TransactionView, actor.id));
}

export async function getEvent(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'events');
  const row = await deps.transactions.read((tx) => tx.maybeOne<Record<string, unknown>>('SELECT * FROM events WHERE id = ?', [id]));
  const event = row && toEventRecord(row);
  // A player learns nothing of other accounts' events, not even that they exist.
  if (!event || (actor.kind === 'player' && event.account_id !== actor.id) || hiddenFrom(actor, event.type)) throw notFound(`event ${id}`);
  return visibleView(actor, event);
}

// An endpoint's events carry its configuration (URL, description), which only admins read
// (GET /webhook-endpoints): events:read once read it through webhook_endpoint.disabled.
const ADMIN_EVENTS = 'webhook_endpoint.';
const hiddenFrom = (actor: Actor, type: string) => type.startsWith(ADMIN_EVENTS) && !hasScope(actor, 'admin');

/**
 * Events newest first (events:read or admin; a player, those of their own account). Paging never
 * skips or repeats an event, however late it commits:
 *
 * - With an account: paged on the account's history sequence, which the account's row lock hands
 *   out in commit order, so an event committed later always has a higher number than every
 *   event already listed, and appears above the first page, never between pages.
 * - Without: paged on (created_at, id) among events at least EVENTS_SETTLE_WINDOW_MS old. No
 *   transaction commits an event later than half that window after its created_at (the settle
 *   guard, src/events/settle-guard.ts), so every event old enough to be listed has committed; a
 *   walk down from any page meets only events that existed when that page was read. The newest
 *   events of the whole system show up after the window; an account's, at once.
 */
export async function listEvents(deps: AppDeps, actor: Actor, query: EventQuery) {
  requireReadScope(actor, 'events');
  const account_id = actor.kind === 'player' ? (query.account_id ?? actor.id) : query.account_id;
  if (account_id !== undefined) requireAccountRead(actor, account_id, 'events');
  const filters = filtersOf(query);
  if (!hasScope(actor, 'admin')) {
    filters.conditions.push('type NOT LIKE ?');
    filters.params.push(`${ADMIN_EVENTS}%`);
  }
  const page = await deps.transactions.read(async (tx) => {
    if (account_id === undefined) return settledPage(tx, query, filters, deps.config.webhooks.events_settle_window_ms);
    const account = await tx.maybeOne('SELECT id FROM accounts WHERE id = ?', [account_id]);
    if (!account) throw notFound(`account ${account_id}`);
    return accountPage(tx, account_id, query, filters);
  });
  return { data: page.events.map((event) => visibleView(actor, event)), next_cursor: page.next_cursor };
}

interface Filters {
  conditions: string[];
  params: SqlParam[];
}

function filtersOf(query: EventQuery): Filters {
  const filters: Filters = { conditions: [], params: [] };
  const add = (condition: string, param: SqlParam) => {
    filters.conditions.push(condition);
    filters.params.push(param);
  };
  if (query.type?.length) add('type = ANY(?::text[])', query.type);
  if (query.created_after) add('created_at > ?::timestamptz', query.created_after);
  if (query.created_before) add('created_at < ?::timestamptz', query.created_before);
  return filters;
}

const and = (conditions: readonly string[]) => conditions.map((condition) => ` AND ${condition}`).join('');

/**
 * An account's events by its history sequence. Events written outside a batch once left a
 * merchant's unnumbered (a page ending on one was a 500): listed with the whole system's only.
 */
async function accountPage(tx: SqlTx, account_id: string, query: EventQuery, filters: Filters) {
  const before = decodeCursor(query.cursor, ['number'])?.[0];
  const rows = await tx.rows<Record<string, unknown>>(
    `SELECT * FROM events
     WHERE account_id = ? AND account_seq IS NOT NULL${before === undefined ? '' : ' AND account_seq < ?'}${and(filters.conditions)}
     ORDER BY account_seq DESC LIMIT ?`,
    [account_id, ...(before === undefined ? [] : [before]), ...filters.params, query.limit + 1],
  );
  const last = rows.length > query.limit ? rows[query.limit - 1] : undefined;
  return {
    events: rows.slice(0, query.limit).map(toEventRecord),
    next_cursor: last ? encodeCursor([int8(last['account_seq'] as string)]) : null,
  };
}

async function settledPage(tx: SqlTx, query: EventQuery, filters: Filters, settle_window_ms: number) {
  const after = decodeTimeCursor(query.cursor);
  const rows = await tx.rows<Record<string, unknown>>(
    `SELECT * FROM events WHERE created_at <= now() - CAST(? AS INTERVAL)
       ${after ? 'AND (created_at, id) < (?::timestamptz, ?::uuid)' : ''}${and(filters.conditions)}
     ORDER BY created_at DESC, id DESC LIMIT ?`,
    [`${settle_window_ms} milliseconds`, ...(after ?? []), ...filters.params, query.limit + 1],
  );
  const last = rows.length > query.limit ? rows[query.limit - 1] : undefined;
  return { events: rows.slice(0, query.limit).map(toEventRecord), next_cursor: encodeTimeCursor(last) };
}
