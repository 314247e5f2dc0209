import { requireAccountAccess } from '../../../auth/access.js';
import type { Actor } from '../../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../../batch/operation.js';
import type { Unit } from '../../../batch/unit.js';
import { DomainError, invariant } from '../../../domain/errors.js';
import type { AppDeps } from '../../../platform/deps.js';
import { insertPendingTopup, type TopupRequest } from '../create-topup.js';
import { TOPUPS } from '../topup-records.js';
import { findTopup, topupView, type Topup } from '../topup-repository.js';
import { requestPaymentIntent, type StripeServices } from './stripe-client.js';

type Intent = { payment_intent_id: string; client_secret: string };

/**
 * A top-up paid through Stripe, in three steps so that the Stripe call runs outside any database
 * transaction and a crash between them is repaired by the client's retry with the same
 * Idempotency-Key:
 *   1. the PENDING top-up is created once per Idempotency-Key (an idempotent step of its own);
 *   2. unless it already has one, Stripe creates its PaymentIntent under an idempotency key made
 *      of the top-up id, so every call for the top-up gets the same intent back;
 *   3. the intent is stored on the top-up together with the answer (201 with the client secret)
 *      under the client's Idempotency-Key; a retry from then on replays that answer.
 * A retry after 1 finds the same top-up; after 2, Stripe returns the same intent; an unknown
 * outcome of the Stripe call (503 to the client) is resolved by asking again with the same key.
 */
export async function createStripeTopup(
  deps: AppDeps,
  stripe: StripeServices,
  actor: Actor,
  input: TopupRequest,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const region = (await deps.directory.regionOf(input.account_id)) ?? deps.region;
  const reserved = await deps.writes.request(
    {
      name: 'reserve_stripe_topup',
      region,
      needs: { accounts: [input.account_id], obligations: [input.account_id] },
      decide: (unit) => ({ topup_id: insertPendingTopup(unit, input, 'stripe', deps.config.limits.kyc).id }),
    },
    reservationOf(idempotency),
  );
  // A refusal (no such account) is remembered under the key like any other answer.
  if (reserved.status !== idempotency.success_status) return reserved;
  const { topup_id } = JSON.parse(reserved.body) as { topup_id: string };
  const topup = await deps.transactions.read((tx) => findTopup(tx, topup_id));
  invariant(topup, `reserved top-up ${topup_id} is missing`);
  let intent: Intent | undefined;
  if (topup.stripe_payment_intent_id === null) {
    const requested = await requestPaymentIntent(stripe, topup, deps.logger);
    if (requested.kind === 'refused') return refuse(deps, topup, requested.message, idempotency);
    intent = requested;
  }
  return deps.writes.request(
    {
      name: 'attach_payment_intent',
      region: topup.region,
      needs: { accounts: [], topups: [topup_id] },
      // The view is the answer of the request: the PaymentIntent and its client secret.
      decide: (unit) => topupView(attachIntent(unit, topup_id, intent), []),
    },
    idempotency,
  );
}

/**
 * Step 1 is remembered under the same key in a caller namespace of its own (`stripe-topup:`
 * never begins a real caller, `player:` or `service:`), with the same request fingerprint: the
 * same key with another body is refused there already.
 */
function reservationOf(idempotency: RequestIdempotency): RequestIdempotency {
  return { ...idempotency, caller: `stripe-topup:${idempotency.caller}` };
}

/** The first intent stored wins; twins racing here carry the same one (Stripe answers one key with one intent). */
function attachIntent(unit: Unit, topup_id: string, intent: Intent | undefined): Topup {
  const topups = unit.table(TOPUPS);
  const topup = topups.get(topup_id);
  invariant(topup, `top-up ${topup_id} was not read for its PaymentIntent`);
  if (!intent || topup.stripe_payment_intent_id !== null) return topup;
  return topups.update(topup_id, {
    stripe_payment_intent_id: intent.payment_intent_id,
    stripe_client_secret: intent.client_secret,
    updated_at: unit.now,
  });
}

/**
 * Stripe refused the payment as asked: the top-up fails (nothing was paid, nothing ever will be)
 * and the client gets 400, remembered under its key.
 */
async function refuse(deps: AppDeps, topup: Topup, message: string, idempotency: RequestIdempotency): Promise<RequestAnswer> {
  await deps.writes.run({
    name: 'fail_refused_topup',
    region: topup.region,
    needs: { accounts: [], topups: [topup.id] },
    decide: (unit) => {
      const current = unit.table(TOPUPS).get(topup.id);
      if (current?.status === 'PENDING' && current.stripe_payment_intent_id === null) {
        unit.table(TOPUPS).update(topup.id, { status: 'FAILED', updated_at: unit.now });
      }
    },
  });
  return deps.writes.request(
    {
      name: 'refuse_stripe_topup',
      region: topup.region,
      needs: { accounts: [] },
      decide: () => {
        throw new DomainError('validation_error', `Stripe refused the payment: ${message}`);
      },
    },
    idempotency,
  );
}
