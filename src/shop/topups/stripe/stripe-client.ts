import Stripe from 'stripe';
import { DomainError } from '../../../domain/errors.js';
import { CallSlots } from '../../../sellers/client/call-slots.js';
import type { Logger } from '../../../platform/logger.js';
import type { Topup } from '../topup-repository.js';
import type { StripeConfig } from './stripe-config.js';

/** A pod's way to Stripe: the official SDK, and a bound on the calls it has in flight. */
export interface StripeServices {
  client: Stripe;
  slots: CallSlots;
  /** How long a call waits for a free slot (one try's timeout). */
  slot_wait_ms: number;
}

/** The SDK pointed where the configuration says; its retries reuse the idempotency key of the call. */
export function createStripeServices(config: StripeConfig): StripeServices {
  const client = new Stripe(config.secret_key, {
    maxNetworkRetries: config.max_network_retries,
    timeout: config.timeout_ms,
    telemetry: false,
    appInfo: { name: 'creditshop' },
    ...config.api_address,
  });
  return { client, slots: new CallSlots(config.calls_in_flight_max), slot_wait_ms: config.timeout_ms };
}

/** The Stripe idempotency key of a top-up's PaymentIntent: every call for one top-up gets the same intent back. */
function paymentIntentIdempotencyKey(topup_id: string): string {
  return `creditshop-topup-${topup_id}`;
}

export type PaymentIntentRequest =
  | { kind: 'created'; payment_intent_id: string; client_secret: string }
  /** Stripe refused the payment as asked (an amount below its minimum, a currency the account does not take). */
  | { kind: 'refused'; message: string };

/**
 * Asks Stripe for the top-up's PaymentIntent. An unknown outcome (a timeout, a dropped
 * connection, a 5xx) is never a reason to create another: the SDK retries with the same key, and
 * if it gives up the caller answers 503, and the client's retry asks again with the same key.
 */
export async function requestPaymentIntent(stripe: StripeServices, topup: Topup, logger: Logger): Promise<PaymentIntentRequest> {
  if (!(await stripe.slots.acquire(1, Date.now() + stripe.slot_wait_ms))) {
    throw new DomainError('unavailable', 'too many payment provider calls in flight; retry with the same Idempotency-Key');
  }
  try {
    return await createPaymentIntent(stripe.client, topup, logger);
  } finally {
    stripe.slots.release(1);
  }
}

async function createPaymentIntent(stripe: Stripe, topup: Topup, logger: Logger): Promise<PaymentIntentRequest> {
  try {
    const intent = await stripe.paymentIntents.create(
      {
        amount: topup.amount_minor,
        currency: topup.currency.toLowerCase(),
        description: `creditshop top-up ${topup.id}`,
        // Stripe copies them to the charge; webhook events find the top-up by them.
        metadata: { creditshop_topup_id: topup.id, creditshop_account_id: topup.account_id },
      },
      { idempotencyKey: paymentIntentIdempotencyKey(topup.id) },
    );
    if (intent.client_secret) return { kind: 'created', payment_intent_id: intent.id, client_secret: intent.client_secret };
    logger.error({ topup_id: topup.id, payment_intent_id: intent.id }, 'Stripe answered a PaymentIntent without a client secret');
  } catch (error) {
    if (error instanceof Stripe.errors.StripeInvalidRequestError || error instanceof Stripe.errors.StripeCardError) {
      return { kind: 'refused', message: error.message };
    }
    // Credentials refused, or an idempotency key reused for other parameters: the operator's to fix.
    const misconfigured = error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError;
    const failure = error instanceof Stripe.errors.StripeError ? describeStripeError(error) : { message: String(error) };
    logger[misconfigured || error instanceof Stripe.errors.StripeIdempotencyError ? 'error' : 'warn'](
      { topup_id: topup.id, stripe: failure },
      'Stripe did not create the PaymentIntent',
    );
  }
  throw new DomainError('unavailable', 'the payment provider did not answer; retry with the same Idempotency-Key');
}

/** What a log line may say of a Stripe failure: never its headers or request (they would carry credentials). */
function describeStripeError(error: InstanceType<typeof Stripe.errors.StripeError>) {
  return { type: error.type, code: error.code, status: error.statusCode, request_id: error.requestId, message: error.message };
}
