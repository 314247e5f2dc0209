import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import { invalidState, notFound } from '../domain/errors.js';
import { EVENTS } from '../events/event-records.js';
import type { AppDeps } from '../platform/deps.js';
import { newDeliveryView, WEBHOOK_DELIVERIES } from './delivery-records.js';
import { WEBHOOK_ENDPOINTS } from './endpoint-records.js';
import { newDelivery } from './fan-out.js';

/**
 * An operator asks for an event to be sent again to an enabled endpoint (admin): a new delivery,
 * due at once, retried like any other. It is outside the account's order (it may arrive after
 * later events): the receiver tells by the event's account_sequence.
 */
export async function redeliverEvent(
  deps: AppDeps,
  actor: Actor,
  input: { event_id: string; endpoint_id: string },
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireScope(actor, 'admin');
  return deps.writes.request(
    {
      name: 'redeliver_event',
      region: deps.region,
      needs: { accounts: [], events: [input.event_id] },
      decide: (unit) => {
        const event = unit.table(EVENTS).get(input.event_id);
        if (!event) throw notFound(`event ${input.event_id}`);
        const endpoint = unit.table(WEBHOOK_ENDPOINTS).get(input.endpoint_id);
        if (!endpoint) throw notFound(`webhook endpoint ${input.endpoint_id}`);
        if (endpoint.status !== 'enabled') throw invalidState(`webhook endpoint ${endpoint.id} is ${endpoint.status}`);
        const delivery = unit.table(WEBHOOK_DELIVERIES).insert(newDelivery(event, endpoint.id, unit.now, true));
        return newDeliveryView(delivery);
      },
    },
    idempotency,
  );
}
