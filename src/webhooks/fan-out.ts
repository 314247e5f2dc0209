import { randomUUID } from 'node:crypto';
import type { EventRecord } from '../events/event-records.js';
import { subscribes } from '../events/event-types.js';
import type { DeliveryRecord } from './delivery-records.js';
import type { EndpointRecord } from './endpoint-records.js';

/** The endpoints a batch (or any transaction writing events) fans events out to: every one not deleted. */
export const ENDPOINTS_READ_TEXT = 'SELECT * FROM webhook_endpoints WHERE status <> ALL($1::text[])';
export const ENDPOINTS_READ_PARAM = ['deleted'];

/** A pending delivery of `event` to one endpoint, due at once. */
export function newDelivery(event: EventRecord, endpoint_id: string, now: string, manual: boolean): DeliveryRecord {
  return {
    id: randomUUID(),
    endpoint_id,
    event_id: event.id,
    event_type: event.type,
    account_id: event.account_id,
    account_seq: manual ? null : event.account_seq,
    manual,
    state: 'pending',
    attempts: 0,
    next_attempt_at: now,
    lease_token: null,
    lease_owner: null,
    lease_expires_at: null,
    event_created_at: event.created_at,
    region: event.region,
    created_at: now,
  };
}

/** One delivery per endpoint enabled and subscribed to the event's type, at the event's commit. */
export function fanOut(event: EventRecord, endpoints: Iterable<EndpointRecord>, now: string): DeliveryRecord[] {
  const deliveries: DeliveryRecord[] = [];
  for (const endpoint of endpoints) {
    if (endpoint.status === 'enabled' && subscribes(endpoint.enabled_events, event.type)) {
      deliveries.push(newDelivery(event, endpoint.id, now, false));
    }
  }
  return deliveries;
}
