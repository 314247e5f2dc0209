import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import Joi from 'joi';
import { UUID_PATTERN } from '../../domain/ids.js';
import { findTextProblem, isStorableText } from '../../domain/text.js';
import type { PspEvent } from './topup-state-machine.js';

const EVENT_ID_LENGTH_MAX = 255;
const TYPE_LENGTH_MAX = 64;
const REASON_LENGTH_MAX = 500;

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

/** A signed body that is an event we understand, recorded under the PSP's event id. */
export interface WellFormedDelivery {
  kind: 'event';
  key: string;
  event: PspEvent;
  payload: unknown;
  raw_body: string;
}

/**
 * A signed body we cannot apply: not JSON, not an event, or text the database refuses. Recorded
 * under its event id when it has a storable one, otherwise under the hash of its bytes; the raw
 * body is kept as base64 (any bytes are safe so), the parsed JSON only when it is storable.
 */
export interface MalformedDelivery {
  kind: 'malformed';
  key: string;
  reason: string;
  /** The event type as sent, when readable; for the operator only. */
  type: string;
  topup_id: string | null;
  payload: unknown;
  raw_body: string;
}

export type PspDelivery = WellFormedDelivery | MalformedDelivery;

/** A delivery as the event log holds it: what a later delivery of the same id is compared with. */
export interface RecordedDelivery {
  id: string;
  topup_id: string | null;
  payload: unknown;
  body_base64: string | null;
  region: string;
}

/** Reads a validly signed body; never throws, whatever it holds. */
export function readPspDelivery(raw_body: string, depth_max: number): PspDelivery {
  const json = readSignedJson(raw_body, depth_max);
  if (json.kind === 'malformed') return json;
  const { value, error } = eventSchema.validate(json.parsed, { convert: false, abortEarly: false });
  if (error) return malformed(raw_body, json.parsed, error.message, true);
  return { kind: 'event', key: value.id, event: value, payload: json.parsed, raw_body };
}

/** The JSON of a validly signed body of any PSP format, if it is JSON the event log can store; never throws. */
export function readSignedJson(raw_body: string, depth_max: number): { kind: 'json'; parsed: unknown } | MalformedDelivery {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw_body);
  } catch {
    return malformed(raw_body, null, 'the body is not JSON');
  }
  const problem = findTextProblem(parsed, depth_max);
  if (!problem) return { kind: 'json', parsed };
  const where = problem.path === '' ? 'the top level' : problem.path;
  const reason =
    problem.reason === 'too_deep'
      ? `nested deeper than ${depth_max} levels at ${where}`
      : `text the database cannot store (U+0000 or a lone surrogate) at ${where}`;
  return malformed(raw_body, parsed, reason, false);
}

/** A signed body that is not an event the format describes: `storable` when its JSON may be kept as the payload. */
export function malformed(raw_body: string, parsed: unknown, reason: string, storable = false): MalformedDelivery {
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const data = typeof fields['data'] === 'object' && fields['data'] !== null ? (fields['data'] as Record<string, unknown>) : {};
  const id = readableText(fields['id'], EVENT_ID_LENGTH_MAX);
  const topup_id = data['topup_id'];
  return {
    kind: 'malformed',
    key: id ?? bodyKey(raw_body),
    reason: `malformed event: ${reason}`.slice(0, REASON_LENGTH_MAX),
    type: readableText(fields['type'], TYPE_LENGTH_MAX) ?? 'unknown',
    topup_id: typeof topup_id === 'string' && UUID_PATTERN.test(topup_id) ? topup_id : null,
    payload: storable ? parsed : null,
    raw_body,
  };
}

function readableText(value: unknown, length_max: number): string | null {
  return typeof value === 'string' && value.length >= 1 && value.length <= length_max && isStorableText(value) ? value : null;
}

/**
 * The key of a body that cannot be recorded under its own event id: a body without a usable id,
 * or one reusing an id already recorded with another body. The same bytes always get the same
 * key, so a redelivery of them is a duplicate.
 */
export function bodyKey(raw_body: string): string {
  return `sha256:${createHash('sha256').update(raw_body).digest('hex')}`;
}

export function bodyBase64(raw_body: string): string {
  return Buffer.from(raw_body, 'utf8').toString('base64');
}

/**
 * A redelivery is the same event when it says the same thing: for events we understand, equal
 * JSON (a PSP may re-serialise with other spacing or key order); for anything else, equal bytes.
 */
export function isSameDelivery(recorded: RecordedDelivery, delivery: Pick<PspDelivery, 'kind' | 'payload' | 'raw_body'>): boolean {
  if (recorded.body_base64 !== null || delivery.kind === 'malformed') return recorded.body_base64 === bodyBase64(delivery.raw_body);
  return isDeepStrictEqual(recorded.payload, delivery.payload);
}
