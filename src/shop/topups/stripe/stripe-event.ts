import Joi from 'joi';
import { UUID_PATTERN } from '../../../domain/ids.js';
import { malformedDelivery, readSignedJson, type MalformedDelivery } from '../../../webhooks/signed-delivery.js';
import { notPaidThere, type Meaning } from '../receive-psp-event.js';
import type { Topup } from '../topup-repository.js';
import type { PspEventType } from '../topup-state-machine.js';

/**
 * Stripe events as the top-up state machine understands them. Pure: no SQL, no I/O.
 *
 * - payment_intent.succeeded / payment_intent.payment_failed: the payment, for the amount
 *   received / asked.
 * - charge.refunded carries the charge's refunded total so far, not the refund: the machine is
 *   given what that total adds to the refunds already recorded against the top-up. Totals that
 *   arrive late or twice add nothing, so refunds in any order and repeated end as the last total.
 * - A dispute is a reversal keyed by the dispute id: Stripe takes the disputed amount back when it
 *   opens (charge.dispute.created; an inquiry, `warning_*`, takes nothing) or at the latest when it
 *   is lost (charge.dispute.closed `lost`), so whichever comes first reverses and the other finds it
 *   done. A dispute won gives the money back to the merchant: the machine cannot undo a reversal,
 *   so it is held for review (credit back by hand what the reversal took), in either order.
 * - Any other type is recorded and acknowledged (`ignored_type`); a payment whose metadata names
 *   no top-up and whose PaymentIntent is none of ours is `unrelated` (the account may take other
 *   payments than top-ups).
 */

interface StripeIntent {
  id: string;
  amount: number;
  amount_received: number;
  currency: string;
}

interface StripeCharge {
  id: string;
  amount_refunded: number;
  currency: string;
  payment_intent: string | null;
}

interface StripeDispute {
  id: string;
  amount: number;
  currency: string;
  status: string;
  charge: string;
  payment_intent: string | null;
}

/** What an event is about, for the types creditshop acts on. */
export type StripeSubject =
  | { kind: 'payment'; type: Extract<PspEventType, 'payment.succeeded' | 'payment.failed'>; intent: StripeIntent }
  | { kind: 'refund'; charge: StripeCharge }
  | { kind: 'dispute'; phase: 'created' | 'closed'; dispute: StripeDispute }
  | { kind: 'ignored' };

/** A validly signed Stripe event, recorded under its event id. */
export interface StripeEvent {
  kind: 'event';
  key: string;
  type: string;
  payload: unknown;
  raw_body: string;
  subject: StripeSubject;
  /** The top-up the object's metadata names (creditshop_topup_id), if any. */
  metadata_topup_id: string | null;
  /** The PaymentIntent the object belongs to: how a dispute (no metadata of ours) finds its top-up. */
  payment_intent_id: string | null;
}

const ID_LENGTH_MAX = 255;
const TYPE_LENGTH_MAX = 64;
const OPTIONS: Joi.ValidationOptions = { convert: false, abortEarly: false };
// Where a malformed body is read for the top-up it names, as for the generic format.
const SUBJECT_FIELD = 'topup_id';

const id = () => Joi.string().min(1).max(ID_LENGTH_MAX);
const amount = () => Joi.number().integer().strict().min(0).max(1e15);
const currency = () => Joi.string().pattern(/^[a-z]{3}$/);

// Stripe adds fields over time: unknown ones are kept in the stored payload, not refused.
const envelopeSchema = Joi.object({
  id: id().required(),
  object: Joi.valid('event').required(),
  type: Joi.string().min(1).max(TYPE_LENGTH_MAX).required(),
  data: Joi.object({ object: Joi.object().unknown(true).required() })
    .unknown(true)
    .required(),
}).unknown(true);

const intentSchema = Joi.object<StripeIntent>({
  id: id().required(),
  amount: amount().required(),
  amount_received: amount().required(),
  currency: currency().required(),
}).unknown(true);

const chargeSchema = Joi.object<StripeCharge>({
  id: id().required(),
  amount_refunded: amount().required(),
  currency: currency().required(),
  payment_intent: id().allow(null).required(),
}).unknown(true);

const disputeSchema = Joi.object<StripeDispute>({
  id: id().required(),
  amount: amount().min(1).required(),
  currency: currency().required(),
  status: Joi.string().min(1).max(TYPE_LENGTH_MAX).required(),
  charge: id().required(),
  payment_intent: id().allow(null).required(),
}).unknown(true);

type Reader = { schema: Joi.ObjectSchema; subject: (object: never) => StripeSubject };
const payment = (type: 'payment.succeeded' | 'payment.failed'): Reader => ({
  schema: intentSchema,
  subject: (intent: StripeIntent) => ({ kind: 'payment', type, intent }),
});
const dispute = (phase: 'created' | 'closed'): Reader => ({
  schema: disputeSchema,
  subject: (object: StripeDispute) => ({ kind: 'dispute', phase, dispute: object }),
});

const READERS = new Map<string, Reader>([
  ['payment_intent.succeeded', payment('payment.succeeded')],
  ['payment_intent.payment_failed', payment('payment.failed')],
  ['charge.refunded', { schema: chargeSchema, subject: (charge: StripeCharge) => ({ kind: 'refund', charge }) }],
  ['charge.dispute.created', dispute('created')],
  ['charge.dispute.closed', dispute('closed')],
]);

/** Reads a body whose Stripe-Signature verified; never throws, whatever it holds. */
export function readStripeEvent(raw_body: string, depth_max: number): StripeEvent | MalformedDelivery {
  const json = readSignedJson(raw_body, depth_max, SUBJECT_FIELD);
  if (json.kind === 'malformed') return json;
  const envelope = envelopeSchema.validate(json.parsed, OPTIONS);
  if (envelope.error) return malformedDelivery(raw_body, json.parsed, envelope.error.message, true, SUBJECT_FIELD);
  const { id: key, type, data } = envelope.value as { id: string; type: string; data: { object: Record<string, unknown> } };
  const event = { kind: 'event' as const, key, type, payload: json.parsed, raw_body, metadata_topup_id: metadataTopupId(data.object) };
  const reader = READERS.get(type);
  if (!reader) return { ...event, subject: { kind: 'ignored' }, payment_intent_id: null };
  const object = reader.schema.validate(data.object, OPTIONS);
  if (object.error) return malformedDelivery(raw_body, json.parsed, `${type}: ${object.error.message}`, true, SUBJECT_FIELD);
  const subject = reader.subject(object.value as never);
  return { ...event, subject, payment_intent_id: paymentIntentOf(subject) };
}

function metadataTopupId(object: Record<string, unknown>): string | null {
  const metadata = object['metadata'];
  const topup_id = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['creditshop_topup_id'] : null;
  return typeof topup_id === 'string' && UUID_PATTERN.test(topup_id) ? topup_id : null;
}

function paymentIntentOf(subject: StripeSubject): string | null {
  switch (subject.kind) {
    case 'payment':
      return subject.intent.id;
    case 'refund':
      return subject.charge.payment_intent;
    case 'dispute':
      return subject.dispute.payment_intent;
    case 'ignored':
      return null;
  }
}

/**
 * What the event means for its top-up, decided on the top-up as the batch sees it. `topup_id` is
 * the top-up the event was traced to (metadata or PaymentIntent); `topup` is undefined when none
 * exists.
 */
export function stripeMeaning(event: StripeEvent, topup_id: string | null, topup: Topup | undefined): Meaning {
  const { subject } = event;
  if (subject.kind === 'ignored') return nothing('ignored_type');
  if (!topup) return topup_id === null ? nothing('unrelated') : { outcome: 'unknown_topup', review_reason: `no top-up ${topup_id}` };
  if (topup.psp_provider !== 'stripe') return notPaidThere(topup, 'Stripe');
  switch (subject.kind) {
    case 'payment': {
      const { intent, type } = subject;
      const paid_minor = type === 'payment.succeeded' ? intent.amount_received : intent.amount;
      return machineEvent(event.key, type, topup, { amount: paid_minor, currency: intent.currency, psp_payment_id: intent.id });
    }
    case 'refund':
      return refundMeaning(subject.charge, topup);
    case 'dispute':
      return disputeMeaning(subject.phase, subject.dispute, topup);
  }
}

function refundMeaning(charge: StripeCharge, topup: Topup): Meaning {
  const prefix = `refund:${charge.id}:`;
  const recorded_minor = topup.reversals
    .filter((reversal) => reversal.event_id.startsWith(prefix))
    .reduce((sum, reversal) => sum + reversal.amount_minor, 0);
  // A total the top-up's refunds already reach: a later one arrived first, or this one again.
  if (charge.amount_refunded <= recorded_minor) return nothing('superseded');
  const psp_payment_id = charge.payment_intent ?? charge.id;
  const refund = { amount: charge.amount_refunded - recorded_minor, currency: charge.currency, psp_payment_id };
  return machineEvent(`${prefix}${charge.amount_refunded}`, 'payment.refunded', topup, refund);
}

function disputeMeaning(phase: 'created' | 'closed', dispute: StripeDispute, topup: Topup): Meaning {
  const reversed = topup.reversals.some((reversal) => reversal.event_id === dispute.id);
  const chargeback = () =>
    machineEvent(dispute.id, 'payment.refunded', topup, {
      amount: dispute.amount,
      currency: dispute.currency,
      psp_payment_id: dispute.payment_intent ?? dispute.charge,
    });
  // An inquiry takes no money, and one closed never became a dispute.
  if (dispute.status.startsWith('warning_')) return nothing('ignored_state');
  if (phase === 'created' || dispute.status === 'lost') return reversed ? nothing('ignored_state') : chargeback();
  const amount = `${dispute.amount} ${dispute.currency.toUpperCase()}`;
  const review_reason =
    dispute.status === 'won'
      ? `dispute ${dispute.id} was won: Stripe gave the ${amount} back; credit back by hand what reversal ${dispute.id} took ` +
        '(applied when the dispute opened, or when that event arrives), then settle this event'
      : `dispute ${dispute.id} closed as ${dispute.status}, which creditshop does not know: check it in Stripe`;
  return { outcome: 'held_for_review', review_reason };
}

function machineEvent(
  id: string,
  type: PspEventType,
  topup: Topup,
  data: { amount: number; currency: string; psp_payment_id: string },
): Meaning {
  return { event: { id, type, data: { ...data, topup_id: topup.id, currency: data.currency.toUpperCase() } } };
}

function nothing(outcome: 'ignored_type' | 'unrelated' | 'ignored_state' | 'superseded'): Meaning {
  return { outcome, review_reason: null };
}
