import Joi from 'joi';
import { UUID_PATTERN } from '../domain/ids.js';
import { EVENT_ID_LENGTH_MAX, readSignedDelivery, type SignedDelivery } from '../webhooks/signed-delivery.js';

export type PayoutEventType = 'payout.paid' | 'payout.failed';

/** A payout provider's callback (SPEC §10). */
export interface PayoutEvent {
  id: string;
  type: PayoutEventType;
  data: { withdrawal_id: string; amount: number; currency: string; payout_id: string; failure_reason?: string };
}

const eventSchema = Joi.object<PayoutEvent>({
  id: Joi.string().min(1).max(EVENT_ID_LENGTH_MAX).required(),
  type: Joi.string().valid('payout.paid', 'payout.failed').required(),
  data: Joi.object({
    withdrawal_id: Joi.string().pattern(UUID_PATTERN).required(),
    amount: Joi.number().integer().strict().min(1).max(1e15).required(),
    currency: Joi.string().max(10).required(),
    payout_id: Joi.string().min(1).max(255).required(),
    failure_reason: Joi.string().max(500),
  })
    .unknown(true)
    .required(),
}).unknown(true);

export type PayoutDelivery = SignedDelivery<PayoutEvent>;

/** Reads a validly signed payout callback; never throws, whatever it holds. */
export function readPayoutDelivery(raw_body: string, depth_max: number): PayoutDelivery {
  return readSignedDelivery(raw_body, depth_max, { schema: eventSchema, subject_field: 'withdrawal_id' });
}
