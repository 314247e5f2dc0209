import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import { invalidState, notFound } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';
import { WEBHOOK_ENDPOINTS } from './endpoint-records.js';
import { activeSecrets, newSigningSecret, secretMarker } from './endpoint-secrets.js';

/**
 * A new signing secret (admin), shown in this answer only (revealed as it goes out, as a created
 * endpoint's). The secrets signing until now keep
 * signing alongside it for `overlap_seconds` (default WEBHOOK_SECRET_OVERLAP_SECONDS; 0 ends them
 * at once): every delivery meanwhile carries one v1 per secret, so receivers switch whenever they
 * are ready. Secrets past their overlap are forgotten.
 */
export async function rotateSecret(
  deps: AppDeps,
  actor: Actor,
  input: { endpoint_id: string; overlap_seconds?: number },
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireScope(actor, 'admin');
  const { secret_overlap_seconds, secrets_active_max } = deps.config.webhooks;
  const overlap_seconds = input.overlap_seconds ?? secret_overlap_seconds;
  return deps.writes.request(
    {
      name: 'rotate_webhook_secret',
      region: deps.region,
      needs: { accounts: [] },
      decide: (unit) => {
        const endpoint = unit.table(WEBHOOK_ENDPOINTS).get(input.endpoint_id);
        if (!endpoint) throw notFound(`webhook endpoint ${input.endpoint_id}`);
        const active = activeSecrets(endpoint.secrets, unit.now_ms);
        // A rotation that ends the others at once (a leaked secret) always fits.
        if (overlap_seconds > 0 && active.length >= secrets_active_max) {
          throw invalidState(`${active.length} secrets sign already (WEBHOOK_SECRETS_ACTIVE_MAX); wait for an overlap to end`);
        }
        const ends_ms = unit.now_ms + overlap_seconds * 1000;
        const overlapping = active.map((secret) => ({
          ...secret,
          expires_at:
            secret.expires_at !== null && Date.parse(secret.expires_at) < ends_ms ? secret.expires_at : new Date(ends_ms).toISOString(),
        }));
        const secret = newSigningSecret(unit.now);
        const still_signing = overlap_seconds > 0 ? overlapping : [];
        const rotated = unit.table(WEBHOOK_ENDPOINTS).update(endpoint.id, { secrets: [...still_signing, secret], updated_at: unit.now });
        return {
          id: endpoint.id,
          secret: secretMarker(secret.salt),
          signing_secrets: rotated.secrets.map(({ created_at, expires_at }) => ({ created_at, expires_at })),
        };
      },
    },
    idempotency,
  );
}
