import Joi from 'joi';
import { UUID_PATTERN } from '../../domain/ids.js';
import { EVENT_ID_LENGTH_MAX, readSignedDelivery, type LoggedBody, type SignedDelivery } from '../../webhooks/signed-delivery.js';
import type { PspEvent } from './topup-state-machine.js';

export { bodyKey, isSameDelivery } from '../../webhooks/signed-delivery.js';

// PSPs add fields over time: unknown ones are kept in the stored payload, not refused.
const eventSchema = Joi.object<PspEvent>({
  id: Joi.string().min(1).max(EVENT_ID_LENGTH_MAX).required(),
  type: Joi.string().valid('payment.succeeded', 'payment.failed', 'payment.refunded').required(),
  data: Joi.object({
    topup_id: Joi.string().pattern(UUID_PATTERN).required(),
    amount: Joi.number().integer().strict().min(1).max(1e15).required(),
    currency: Joi.string().max(10).required(),
    psp_payment_id: Joi.string().min(1).max(255).required(),
  })
    .unknown(true)
    .required(),
}).unknown(true);

export type PspDelivery = SignedDelivery<PspEvent>;

/** A delivery as the event log holds it: what a later delivery of the same id is compared with. */
export interface RecordedDelivery extends LoggedBody {
  id: string;
  topup_id: string | null;
  /** What the first delivery came to (an EventOutcome): what a redelivery is answered. */
  outcome: string;
  region: string;
}

/** Reads a validly signed PSP body; never throws, whatever it holds. */
export function readPspDelivery(raw_body: string, depth_max: number): PspDelivery {
  return readSignedDelivery(raw_body, depth_max, { schema: eventSchema, subject_field: 'topup_id' });
}
