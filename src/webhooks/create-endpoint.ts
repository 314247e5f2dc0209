import { randomUUID } from 'node:crypto';
import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import { invalidState } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';
import { endpointView, WEBHOOK_ENDPOINTS } from './endpoint-records.js';
import { newSigningSecret, secretMarker } from './endpoint-secrets.js';

export interface CreateEndpointInput {
  url: string;
  enabled_events: string[];
  description?: string;
}

/**
 * Registers an endpoint (admin), enabled at once: every event committed after it is delivered to
 * it if subscribed; none before. The answer shows its signing secret, the only answer that ever
 * does: stored with its marker, revealed as it goes out (the route's `present`), so a replay under
 * the same Idempotency-Key shows the same one again.
 */
export async function createEndpoint(
  deps: AppDeps,
  actor: Actor,
  input: CreateEndpointInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireScope(actor, 'admin');
  const { endpoints_max } = deps.config.webhooks;
  return deps.writes.request(
    {
      name: 'create_webhook_endpoint',
      region: deps.region,
      needs: { accounts: [] },
      decide: (unit) => {
        const endpoints = unit.table(WEBHOOK_ENDPOINTS);
        if (endpoints.all().length >= endpoints_max) {
          throw invalidState(`there are ${endpoints_max} webhook endpoints already (WEBHOOK_ENDPOINTS_MAX); delete one first`);
        }
        const secret = newSigningSecret(unit.now);
        const endpoint = endpoints.insert({
          id: randomUUID(),
          url: input.url,
          description: input.description ?? null,
          enabled_events: [...new Set(input.enabled_events)],
          status: 'enabled',
          secrets: [secret],
          disabled_reason: null,
          created_at: unit.now,
          updated_at: unit.now,
        });
        return { ...endpointView(endpoint, undefined), secret: secretMarker(secret.salt) };
      },
    },
    idempotency,
  );
}
