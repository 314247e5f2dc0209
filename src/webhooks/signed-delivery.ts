import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type Joi from 'joi';
import { UUID_PATTERN } from '../domain/ids.js';
import { findTextProblem, isStorableText } from '../domain/text.js';
import { hasRoundedWholeNumber } from '../domain/json-numbers.js';

/**
 * Reading a validly signed callback body of a payment partner (the PSP's events, the payout
 * provider's), whatever it holds. Partners add fields over time: unknown ones are kept in the
 * stored payload, never refused. A body that is not an event we understand is still recorded
 * (and held for review), never dropped.
 */

/** Longest event id a partner may send. */
export const EVENT_ID_LENGTH_MAX = 255;
const TYPE_LENGTH_MAX = 64;
const REASON_LENGTH_MAX = 500;

/** What a partner's events look like: their schema, and the field of `data` naming our object (topup_id, withdrawal_id). */
export interface DeliveryFormat<E> {
  schema: Joi.ObjectSchema<E>;
  subject_field: string;
}

/** A signed body that is an event we understand, recorded under the partner's event id. */
export interface WellFormedDelivery<E> {
  kind: 'event';
  key: string;
  type: string;
  event: E;
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
  /** Our object the body names, when it names one that can be. */
  subject_id: string | null;
  payload: unknown;
  raw_body: string;
}

export type SignedDelivery<E> = WellFormedDelivery<E> | MalformedDelivery;

/** What every event log compares and keeps of a delivery, whatever its format. */
export interface DeliveredBody {
  kind: 'event' | 'malformed';
  /** Its key in the log: the partner's event id, or the hash of its bytes when it has no usable id. */
  key: string;
  type: string;
  payload: unknown;
  raw_body: string;
}

/** Reads a validly signed body; never throws, whatever it holds. */
export function readSignedDelivery<E extends { id: string; type: string }>(
  raw_body: string,
  depth_max: number,
  format: DeliveryFormat<E>,
): SignedDelivery<E> {
  const json = readSignedJson(raw_body, depth_max, format.subject_field);
  if (json.kind === 'malformed') return json;
  canonicalSubject(json.parsed, format.subject_field);
  const { value, error } = format.schema.validate(json.parsed, { convert: false, abortEarly: false });
  if (error) return malformedDelivery(raw_body, json.parsed, error.message, true, format.subject_field);
  return { kind: 'event', key: value.id, type: value.type, event: value, payload: json.parsed, raw_body };
}

/**
 * Our id in a partner's event written as we write it, in the event and in the payload the log
 * keeps: a redelivery that differs from the first only in the id's case says the same, and is a
 * duplicate, not a conflict.
 */
function canonicalSubject(parsed: unknown, subject_field: string): void {
  const data = (parsed as { data?: unknown } | null)?.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return;
  const fields = data as Record<string, unknown>;
  const subject_id = fields[subject_field];
  if (typeof subject_id === 'string' && UUID_PATTERN.test(subject_id)) fields[subject_field] = ourUuid(subject_id);
}

/**
 * The JSON of a validly signed body of any format, if it is JSON an event log can store; never
 * throws. `subject_field` names our object in `data` of a body that turns out malformed.
 */
export function readSignedJson(
  raw_body: string,
  depth_max: number,
  subject_field: string,
): { kind: 'json'; parsed: unknown } | MalformedDelivery {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw_body);
  } catch {
    return malformedDelivery(raw_body, null, 'the body is not JSON', false, subject_field);
  }
  const problem = findTextProblem(parsed, depth_max);
  if (!problem) {
    // A partner is trusted for what it can prove: an amount it wrote is read exactly or not at all.
    if (!hasRoundedWholeNumber(raw_body)) return { kind: 'json', parsed };
    return malformedDelivery(raw_body, parsed, 'a number has more digits than can be read exactly', true, subject_field);
  }
  const where = problem.path === '' ? 'the top level' : problem.path;
  const reason =
    problem.reason === 'too_deep'
      ? `nested deeper than ${depth_max} levels at ${where}`
      : `text the database cannot store (U+0000 or a lone surrogate) at ${where}`;
  return malformedDelivery(raw_body, parsed, reason, false, subject_field);
}

/** A signed body that is not an event its format describes: `storable` when its JSON may be kept as the payload. */
export function malformedDelivery(
  raw_body: string,
  parsed: unknown,
  reason: string,
  storable: boolean,
  subject_field: string,
): MalformedDelivery {
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const data = typeof fields['data'] === 'object' && fields['data'] !== null ? (fields['data'] as Record<string, unknown>) : {};
  const id = readableText(fields['id'], EVENT_ID_LENGTH_MAX);
  const subject_id = data[subject_field];
  return {
    kind: 'malformed',
    key: id ?? bodyKey(raw_body),
    reason: `malformed event: ${reason}`.slice(0, REASON_LENGTH_MAX),
    type: readableText(fields['type'], TYPE_LENGTH_MAX) ?? 'unknown',
    subject_id: typeof subject_id === 'string' && UUID_PATTERN.test(subject_id) ? ourUuid(subject_id) : null,
    payload: storable ? parsed : null,
    raw_body,
  };
}

/** Ours are written in lowercase; a partner may write them in capitals, which name the same UUID (RFC 9562). */
function ourUuid(id: string): string {
  return id.toLowerCase();
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

/** A delivery as an event log holds it: what a later delivery of the same id is compared with. */
export interface LoggedBody {
  payload: unknown;
  body_base64: string | null;
}

/**
 * A redelivery is the same event when it says the same thing: for events we understand, equal
 * `type` and `data` as JSON (a partner may re-serialise with other spacing or key order, and
 * change what describes the delivery rather than the event: Stripe's `pending_webhooks` falls as
 * endpoints acknowledge it); for anything else, equal bytes.
 */
export function isSameDelivery(recorded: LoggedBody, delivery: Pick<DeliveredBody, 'kind' | 'payload' | 'raw_body'>): boolean {
  if (recorded.body_base64 !== null || delivery.kind === 'malformed') return recorded.body_base64 === bodyBase64(delivery.raw_body);
  return isDeepStrictEqual(meaningOf(recorded.payload), meaningOf(delivery.payload));
}

/**
 * The log entry a delivery repeats, if any: its event id saying the same, or its very bytes
 * recorded before under their hash (a body that reused an id, or had none usable). A repeat is
 * answered as the first delivery was (SPEC §1.3) and changes nothing.
 */
export function repeatedEntry<R extends LoggedBody>(
  find: (key: string) => R | undefined,
  delivery: Pick<DeliveredBody, 'kind' | 'key' | 'payload' | 'raw_body'>,
): R | undefined {
  const recorded = find(delivery.key);
  if (!recorded) return undefined;
  if (isSameDelivery(recorded, delivery)) return recorded;
  // Under the hash of these bytes only if it holds these bytes: a partner's id could be such a key.
  const by_bytes = find(bodyKey(delivery.raw_body));
  return by_bytes?.body_base64 === bodyBase64(delivery.raw_body) ? by_bytes : undefined;
}

/** What an event says, as the log keeps it in JSON: -0 reads back as 0, and a number beyond doubles (1e400) as null. */
function meaningOf(payload: unknown): unknown {
  const { type, data } = payload as { type?: unknown; data?: unknown };
  return JSON.parse(JSON.stringify({ type, data }));
}

/** How an event log records a body, whatever the partner: the part every log row has. */
export interface LogEntry {
  id: string;
  type: string;
  payload: unknown;
  body_base64: string | null;
  outcome: string;
  review_reason: string | null;
  conflicts_with: string | null;
}

/** A body that reused an event id already recorded with another body: kept under the key of its own bytes, never applied. */
export function conflictEntry(delivery: DeliveredBody, key: string): LogEntry {
  return {
    id: key,
    type: delivery.type,
    payload: delivery.payload,
    body_base64: bodyBase64(delivery.raw_body),
    outcome: 'conflict',
    review_reason: `event id ${delivery.key} was received before with a different body; this body is not applied`,
    conflicts_with: delivery.key,
  };
}

/** A body that is not an event we understand: kept with its bytes and why, never applied. */
export function malformedEntry(delivery: MalformedDelivery): LogEntry {
  return {
    id: delivery.key,
    type: delivery.type,
    payload: delivery.payload,
    body_base64: bodyBase64(delivery.raw_body),
    outcome: 'malformed',
    review_reason: delivery.reason,
    conflicts_with: null,
  };
}
