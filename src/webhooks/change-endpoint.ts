import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { Unit } from '../batch/unit.js';
import { notFound } from '../domain/errors.js';
import { emitEvent } from '../events/emit.js';
import type { AppDeps } from '../platform/deps.js';
import { healthOf, markHealthy } from './endpoint-health.js';
import { endpointView, WEBHOOK_ENDPOINTS, type EndpointRecord, type EndpointStatus } from './endpoint-records.js';

export interface EndpointChanges {
  url?: string;
  enabled_events?: string[];
  description?: string | null;
  status?: 'enabled' | 'disabled';
}

/**
 * One change of an endpoint, as an operation of the write path: every batch reads the endpoints,
 * so from the commit of the change on every event is fanned out the new way (and the pods learn
 * of it from the batches they run, or their next poll).
 */
async function changeEndpoint(
  deps: AppDeps,
  name: string,
  endpoint_id: string,
  change: (unit: Unit, endpoint: EndpointRecord) => EndpointRecord,
): Promise<EndpointRecord> {
  return deps.writes.run({
    name,
    region: deps.region,
    needs: { accounts: [] },
    decide: (unit) => {
      const endpoint = unit.table(WEBHOOK_ENDPOINTS).get(endpoint_id);
      if (!endpoint) throw notFound(`webhook endpoint ${endpoint_id}`);
      return change(unit, endpoint);
    },
  });
}

function update(unit: Unit, endpoint: EndpointRecord, fields: Partial<EndpointRecord>): EndpointRecord {
  return unit.table(WEBHOOK_ENDPOINTS).update(endpoint.id, { ...fields, updated_at: unit.now });
}

/**
 * PATCH (admin): url, subscriptions, description, enabled or disabled. Enabling again, or a new
 * URL (a receiver fixed, or moved), starts a new health record.
 */
export async function updateEndpoint(deps: AppDeps, actor: Actor, endpoint_id: string, changes: EndpointChanges) {
  requireScope(actor, 'admin');
  // The streak ends before the endpoint is enabled: ended after, a pod's check in between could
  // see it enabled and failing for days, and disable it again at once. A URL fixed near the end of
  // the streak was disabled before its first attempt.
  if (changes.status === 'enabled' || changes.url !== undefined) await deps.transactions.read((tx) => markHealthy(tx, endpoint_id));
  const changed = await changeEndpoint(deps, 'update_webhook_endpoint', endpoint_id, (unit, endpoint) => {
    const status: EndpointStatus = changes.status ?? endpoint.status;
    return update(unit, endpoint, {
      url: changes.url ?? endpoint.url,
      enabled_events: changes.enabled_events ? [...new Set(changes.enabled_events)] : endpoint.enabled_events,
      description: changes.description === undefined ? endpoint.description : changes.description,
      status,
      disabled_reason:
        status === 'disabled' ? (changes.status === 'disabled' ? 'disabled by an operator' : endpoint.disabled_reason) : null,
    });
  });
  return endpointView(changed, await deps.transactions.read((tx) => healthOf(tx, endpoint_id)));
}

/** DELETE (admin): nothing more is delivered to it, pending retries included; it is no longer listed. */
export async function deleteEndpoint(deps: AppDeps, actor: Actor, endpoint_id: string) {
  requireScope(actor, 'admin');
  const deleted = await changeEndpoint(deps, 'delete_webhook_endpoint', endpoint_id, (unit, endpoint) =>
    update(unit, endpoint, { status: 'deleted' }),
  );
  return endpointView(deleted, undefined);
}

/**
 * An endpoint that has not answered a single delivery with a 2xx since `failing_since` is
 * disabled (by the pod that notices first; the others find it done), and the other endpoints are
 * told with a `webhook_endpoint.disabled` event. False when it was not enabled any more.
 */
export async function disableFailingEndpoint(deps: AppDeps, endpoint_id: string, failing_since: string): Promise<boolean> {
  const health = await deps.transactions.read((tx) => healthOf(tx, endpoint_id));
  if (health?.failing_since !== failing_since) return false;
  let disabled_now = false;
  await changeEndpoint(deps, 'disable_webhook_endpoint', endpoint_id, (unit, endpoint) => {
    disabled_now = endpoint.status === 'enabled';
    if (!disabled_now) return endpoint;
    const disabled = update(unit, endpoint, {
      status: 'disabled',
      disabled_reason: `no delivery succeeded since ${failing_since} (WEBHOOK_DISABLE_AFTER_SECONDS)`,
    });
    emitEvent(unit, { type: 'webhook_endpoint.disabled', data: endpointView(disabled, health) });
    return disabled;
  });
  return disabled_now;
}
