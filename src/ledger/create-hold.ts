import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { AppDeps } from '../platform/deps.js';
import { insertHold } from './holds.js';
import type { Metadata } from './ledger-records.js';
import { holdView } from './views.js';

export interface CreateHoldInput {
  account_id: string;
  amount: number;
  currency: string;
  expires_in_seconds: number;
  reference?: string;
  metadata?: Metadata;
}

/** Authorizes an amount on a player's wallet; capture sends it to @revenue, void or expiry releases it. */
export async function createHold(
  deps: AppDeps,
  actor: Actor,
  input: CreateHoldInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireScope(actor, 'credits:write');
  return deps.writes.request(
    {
      name: 'create_hold',
      region: (await deps.directory.regionOf(input.account_id)) ?? deps.region,
      needs: { accounts: [input.account_id] },
      decide: (unit) =>
        holdView(
          insertHold(
            unit,
            {
              owner: 'api',
              account_id: input.account_id,
              currency: input.currency,
              amount_minor: input.amount,
              expires_in_seconds: input.expires_in_seconds,
              destination_account_id: '@revenue',
              reference: input.reference ?? null,
              metadata: input.metadata,
            },
            deps.config.limits,
          ),
        ),
    },
    idempotency,
  );
}
