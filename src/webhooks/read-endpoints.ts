import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { decodeTimeCursor, encodeTimeCursor } from '../events/time-cursor.js';
import type { SqlTx } from '../db/sql.js';
import { notFound } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';
import { deliveryView, type DeliveryState } from './delivery-records.js';
import { healthOf, readHealth } from './endpoint-health.js';
import { endpointView, toEndpointRecord } from './endpoint-records.js';

async function findEndpoint(tx: SqlTx, id: string) {
  const row = await tx.maybeOne<Record<string, unknown>>("SELECT * FROM webhook_endpoints WHERE id = ? AND status <> 'deleted'", [id]);
  return row && toEndpointRecord(row);
}

export async function getEndpoint(deps: AppDeps, actor: Actor, id: string) {
  requireScope(actor, 'admin');
  return deps.transactions.read(async (tx) => {
    const endpoint = await findEndpoint(tx, id);
    if (!endpoint) throw notFound(`webhook endpoint ${id}`);
    return endpointView(endpoint, await healthOf(tx, id));
  });
}

/** Endpoints newest first (admin); deleted ones are gone. */
export async function listEndpoints(deps: AppDeps, actor: Actor, page: { limit: number; cursor?: string }) {
  requireScope(actor, 'admin');
  const after = decodeTimeCursor(page.cursor);
  return deps.transactions.read(async (tx) => {
    const rows = await tx.rows<Record<string, unknown>>(
      `SELECT * FROM webhook_endpoints WHERE status <> 'deleted' ${after ? 'AND (created_at, id) < (?::timestamptz, ?::uuid)' : ''}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...(after ?? []), page.limit + 1],
    );
    const health = await readHealth(tx);
    const endpoints = rows.slice(0, page.limit).map(toEndpointRecord);
    const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
    return {
      data: endpoints.map((endpoint) => endpointView(endpoint, health.get(endpoint.id))),
      next_cursor: encodeTimeCursor(last),
    };
  });
}

/** An endpoint's deliveries newest first, each with its latest attempts (admin). */
export async function listDeliveries(
  deps: AppDeps,
  actor: Actor,
  endpoint_id: string,
  page: { limit: number; cursor?: string; status?: DeliveryState; event_id?: string },
) {
  requireScope(actor, 'admin');
  const after = decodeTimeCursor(page.cursor);
  return deps.transactions.read(async (tx) => {
    if (!(await findEndpoint(tx, endpoint_id))) throw notFound(`webhook endpoint ${endpoint_id}`);
    // A walk over the endpoint lists settled deliveries only, as the events list does: a delivery is
    // written with its event, none commits later than the settle window after its created_at, so no
    // page misses one committed late. The deliveries of one event are a lookup, shown at once.
    const settle_window = `${deps.config.webhooks.events_settle_window_ms} milliseconds`;
    const filters = [
      ...(page.event_id ? [] : [{ condition: 'created_at <= now() - CAST(? AS INTERVAL)', params: [settle_window] }]),
      ...(after ? [{ condition: '(created_at, id) < (?::timestamptz, ?::uuid)', params: after }] : []),
      ...(page.status ? [{ condition: 'state = ?', params: [page.status] }] : []),
      ...(page.event_id ? [{ condition: 'event_id = ?', params: [page.event_id] }] : []),
    ];
    const rows = await tx.rows<Record<string, unknown>>(
      `SELECT * FROM webhook_deliveries WHERE endpoint_id = ?${filters.map((filter) => ` AND ${filter.condition}`).join('')}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
      [endpoint_id, ...filters.flatMap((filter) => filter.params), page.limit + 1],
    );
    const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
    return {
      data: rows.slice(0, page.limit).map(deliveryView),
      next_cursor: encodeTimeCursor(last),
    };
  });
}
