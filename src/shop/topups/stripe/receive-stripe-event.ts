import Stripe from 'stripe';
import { DomainError } from '../../../domain/errors.js';
import type { AppDeps } from '../../../platform/deps.js';
import { loggedMalformed, receiveDelivery, type EventOutcome } from '../receive-psp-event.js';
import { findTopupIdByPaymentIntent } from '../topup-repository.js';
import type { StripeConfig } from './stripe-config.js';
import { readStripeEvent, stripeMeaning } from './stripe-event.js';
import type { SignedBody } from '../psp-signature.js';

/**
 * A Stripe webhook (POST /v1/psp/stripe/events), with the guarantees of the generic format: a
 * body whose Stripe-Signature verifies is recorded once in the PSP event log, in the same batch as
 * its effect on the top-up, and answered 200 whatever it says (Stripe redelivers anything else
 * for days); one that does not verify is 400 and recorded nowhere.
 */
export async function receiveStripeEvent(
  deps: AppDeps,
  body: SignedBody,
  signature_header: string,
): Promise<{ received: true; outcome: EventOutcome }> {
  verifyStripeSignature(deps.config.stripe, body.bytes, signature_header);
  const raw_body = body.text;
  const event = readStripeEvent(raw_body, deps.config.psp_event_depth_max);
  if (event.kind === 'malformed') return receiveDelivery(deps, loggedMalformed(event));
  const { key, type, payload, metadata_topup_id, payment_intent_id } = event;
  const topup_id =
    metadata_topup_id ??
    (payment_intent_id === null
      ? null
      : ((await deps.transactions.read((tx) => findTopupIdByPaymentIntent(tx, payment_intent_id))) ?? null));
  return receiveDelivery(deps, {
    kind: 'event',
    key,
    type,
    topup_id,
    payload,
    raw_body,
    meaning: (topup) => stripeMeaning(event, topup_id, topup),
  });
}

/** The SDK's constructEvent on the exact bytes received; a body that verifies but is no JSON event is read (and held) later. */
function verifyStripeSignature(config: StripeConfig, raw_body: Buffer, signature_header: string): void {
  try {
    Stripe.webhooks.constructEvent(raw_body, signature_header, config.webhook_secret, config.webhook_tolerance_seconds);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      // The SDK's first sentence says what failed; the rest is advice for whoever wires the endpoint.
      const reason = error.message.split(/[\n.]/, 1)[0]!.trim();
      throw new DomainError('validation_error', `Stripe-Signature does not verify: ${reason}`);
    }
  }
}
