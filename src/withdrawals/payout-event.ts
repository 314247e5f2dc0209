import Joi from 'joi';
import { UUID_PATTERN } from '../domain/ids.js';
import { EVENT_ID_LENGTH_MAX, readSignedDelivery, type SignedDelivery } from '../webhooks/signed-delivery.js';

export type PayoutEventType = 'payout.paid' | 'payout.failed';

/** Longest failure reason kept from a provider: a longer one is cut, never refused. */
export const FAILURE_REASON_LENGTH_MAX = 500;

/**
 * A payout provider's callback (SPEC §10). Read tolerantly (the provider got 200 and will not send
 * it again): an optional field sent as null or empty is absent, and a failure may come before the
 * provider gave the payout an id. A payment must name its payout.
 */
export interface PayoutEvent {
  id: string;
  type: PayoutEventType;
  data: { withdrawal_id: string; amount: number; currency: string; payout_id?: string | null; failure_reason?: string | null };
}

// biome-ignore lint/suspicious/noThenProperty: Joi names a condition's branch `then`; this object is no thenable
const PAID_ONLY_REQUIRED = { is: 'payout.paid', then: Joi.required(), otherwise: Joi.allow(null, '') };

const eventSchema = Joi.object<PayoutEvent>({
  id: Joi.string().min(1).max(EVENT_ID_LENGTH_MAX).required(),
  type: Joi.string().valid('payout.paid', 'payout.failed').required(),
  data: Joi.object({
    withdrawal_id: Joi.string().pattern(UUID_PATTERN).required(),
    amount: Joi.number().integer().strict().min(1).max(1e15).required(),
    currency: Joi.string().max(10).required(),
    payout_id: Joi.string().min(1).max(255).when('...type', PAID_ONLY_REQUIRED),
    failure_reason: Joi.string().allow(null, ''),
  })
    .unknown(true)
    .required(),
}).unknown(true);

/** The failure a callback reports, as a withdrawal keeps it: at most FAILURE_REASON_LENGTH_MAX characters, or a default. */
export function failureReasonOf(event: PayoutEvent): string {
  const reason = event.data.failure_reason;
  if (!reason) return 'the payout provider reported a failure';
  const characters = [...reason];
  return characters.length <= FAILURE_REASON_LENGTH_MAX ? reason : `${characters.slice(0, FAILURE_REASON_LENGTH_MAX - 1).join('')}…`;
}

export type PayoutDelivery = SignedDelivery<PayoutEvent>;

/** Reads a validly signed payout callback; never throws, whatever it holds. */
export function readPayoutDelivery(raw_body: string, depth_max: number): PayoutDelivery {
  return readSignedDelivery(raw_body, depth_max, { schema: eventSchema, subject_field: 'withdrawal_id' });
}
