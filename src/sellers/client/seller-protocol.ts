import Joi from 'joi';
import { isStorableIsoInstant } from '../../domain/instants.js';
import { isStorableText } from '../../domain/text.js';
import type { Seller } from '../registry/seller-repository.js';
import type { SellerConfig } from '../seller-config.js';
import { httpCall, type HttpOutcome, type OutboundAgents } from './http-call.js';

/** A seller's answer to a quote: `{available: false}` needs no other field (SPEC §6). */
export type Quote =
  | { available: false }
  | { available: true; price_minor: number; currency: string | null; quote_id: string; expires_at_ms: number };

export interface SellerHold {
  hold_id: string;
  price_minor: number;
}

export interface SellerOrder {
  order_id: string;
  price_minor: number;
}

/** A seller's business answer refusing the request: the seller is healthy, the deal is off. */
export type ConflictReason = 'out_of_stock' | 'quote_expired' | 'hold_expired' | 'price_changed' | 'refused';
/**
 * The call itself failed; all but `rate_limited` and `aborted` count against the seller's circuit.
 * `rejected` is a definite refusal of the call as made (a 4xx other than 408, 409 and 429): the
 * seller did not act on it, but a seller that answers so is not working for us.
 */
export type FailureReason = 'timeout' | 'network' | 'server_error' | 'bad_response' | 'rejected' | 'rate_limited' | 'aborted';

export type SellerResult<T> =
  | { outcome: 'ok'; value: T; latency_ms: number }
  | { outcome: 'conflict'; reason: ConflictReason; price_minor: number | null; latency_ms: number; detail: string }
  | { outcome: 'failed'; reason: FailureReason; latency_ms: number; detail: string };

const CIRCUIT_FAILURES = new Set<FailureReason>(['timeout', 'network', 'server_error', 'bad_response', 'rejected']);

/** Whether a call outcome is the seller's fault (counts toward opening its circuit). */
export function countsAsFailure(result: SellerResult<unknown>): boolean {
  return result.outcome === 'failed' && CIRCUIT_FAILURES.has(result.reason);
}

// Sellers differ in small ways (SPEC §6): any 2xx is a success, unknown fields are ignored, and
// only a body that cannot mean what the call asked is a bad answer. A price of 0 is not a sale we
// can settle (a ledger movement is never zero): a bad answer for holds, orders and offers.
const money = Joi.number().integer().min(1).max(1e12).required();
// A seller's text is stored (quotes, holds, orders): what the database refuses is a bad answer, not a failed write.
const storable = Joi.string().custom((value: string, helpers) => (isStorableText(value) ? value : helpers.error('any.invalid')));
const text = storable.min(1).max(256).required();
const OPTIONS: Joi.ValidationOptions = { allowUnknown: true, convert: false, abortEarly: true };
const availabilitySchema = Joi.object({ available: Joi.boolean().required() }).required();
const offerSchema = Joi.object({
  price: money,
  quote_id: text,
  expires_at: Joi.string().isoDate().required(),
  // Not in the protocol (SPEC §6): a null is read as absent, like a missing field.
  currency: storable.max(16).allow(null),
}).required();
const holdSchema = Joi.object({ hold_id: text, price: money }).required();
// `CONFIRMED` says the same: sellers differ in small ways (SPEC §6).
const orderSchema = Joi.object({
  order_id: text,
  status: Joi.string().valid('confirmed').insensitive().required(),
  price: money,
}).required();
const conflictSchema = Joi.object({ error: storable.max(64), price: Joi.number().integer().min(1).max(1e12) });
const CONFLICTS = new Set(['out_of_stock', 'quote_expired', 'hold_expired', 'price_changed']);

type Reading<T> = { value: T } | { error: string };

function validated<T>(schema: Joi.Schema, body: unknown): Reading<T> {
  const { error, value } = schema.validate(body, OPTIONS);
  return error ? { error: error.message.slice(0, 200) } : { value: value as T };
}

function readQuote(body: unknown): Reading<Quote> {
  const availability = validated<{ available: boolean }>(availabilitySchema, body);
  if ('error' in availability) return availability;
  if (!availability.value.available) return { value: { available: false } };
  const offer = validated<{ price: number; quote_id: string; expires_at: string; currency?: string | null }>(offerSchema, body);
  if ('error' in offer) return offer;
  const { price, quote_id, expires_at, currency } = offer.value;
  // Joi's isoDate takes what Date cannot read (an offset "+01"): one seller's format made every fan-out throw.
  const expires_at_ms = Date.parse(expires_at);
  if (!isStorableIsoInstant(expires_at, expires_at_ms)) return { error: '"expires_at" is not an instant' };
  return { value: { available: true, price_minor: price, currency: currency ?? null, quote_id, expires_at_ms } };
}

function readHold(body: unknown): Reading<SellerHold> {
  const hold = validated<{ hold_id: string; price: number }>(holdSchema, body);
  return 'error' in hold ? hold : { value: { hold_id: hold.value.hold_id, price_minor: hold.value.price } };
}

function readOrder(body: unknown): Reading<SellerOrder> {
  const order = validated<{ order_id: string; price: number }>(orderSchema, body);
  return 'error' in order ? order : { value: { order_id: order.value.order_id, price_minor: order.value.price } };
}

export interface CallSettings {
  timeout_ms: number;
  response_bytes_max: number;
  agents: OutboundAgents;
  signal?: AbortSignal;
}

export function callSettings(
  config: Pick<SellerConfig, 'response_bytes_max'>,
  agents: OutboundAgents,
  timeout_ms: number,
  signal?: AbortSignal,
): CallSettings {
  return {
    timeout_ms,
    response_bytes_max: config.response_bytes_max,
    agents,
    ...(signal ? { signal } : {}),
  };
}

export async function requestQuote(seller: Seller, product_id: string, settings: CallSettings): Promise<SellerResult<Quote>> {
  const outcome = await httpCall({
    method: 'GET',
    url: `${seller.base_url}/quote?product_id=${encodeURIComponent(product_id)}`,
    ...settings,
  });
  // A seller that does not know the product often says so with a 404 and a JSON body: not
  // available, not a failing seller (unknown product ids asked on purpose must not open its circuit).
  // A 404 that is not JSON (a proxy's page, a wrong base_url) stays a failure.
  if (outcome.kind === 'answered' && outcome.status === 404 && typeof outcome.body === 'object' && outcome.body !== null) {
    return { outcome: 'ok', value: { available: false }, latency_ms: outcome.latency_ms };
  }
  return interpret(outcome, readQuote);
}

export async function requestHold(seller: Seller, quote_id: string, settings: CallSettings): Promise<SellerResult<SellerHold>> {
  const outcome = await httpCall({ method: 'POST', url: `${seller.base_url}/holds`, body: { quote_id }, ...settings });
  return interpret(outcome, readHold);
}

/** The order is idempotent at the seller under `idempotency_key`: re-sending it never buys twice. */
export async function placeOrder(
  seller: Seller,
  request: { hold_id: string } | { quote_id: string },
  idempotency_key: string,
  settings: CallSettings,
): Promise<SellerResult<SellerOrder>> {
  const outcome = await httpCall({
    method: 'POST',
    url: `${seller.base_url}/orders`,
    body: request,
    headers: { 'idempotency-key': idempotency_key },
    ...settings,
  });
  return interpret(outcome, readOrder);
}

function interpret<T>(outcome: HttpOutcome, read: (body: unknown) => Reading<T>): SellerResult<T> {
  const { latency_ms } = outcome;
  if (outcome.kind === 'timeout' || outcome.kind === 'network' || outcome.kind === 'aborted') {
    return { outcome: 'failed', reason: outcome.kind, latency_ms, detail: outcome.detail };
  }
  if (outcome.kind !== 'answered') return { outcome: 'failed', reason: 'bad_response', latency_ms, detail: outcome.detail };
  const { status, body } = outcome;
  if (status >= 200 && status < 300) {
    const reading = read(body);
    if ('error' in reading) return { outcome: 'failed', reason: 'bad_response', latency_ms, detail: `${status}: ${reading.error}` };
    return { outcome: 'ok', value: reading.value, latency_ms };
  }
  if (status === 409) return conflict(body, latency_ms);
  if (status === 429) return { outcome: 'failed', reason: 'rate_limited', latency_ms, detail: 'seller answered 429' };
  if (status === 408) return { outcome: 'failed', reason: 'timeout', latency_ms, detail: 'seller answered 408' };
  if (status >= 400 && status < 500) return { outcome: 'failed', reason: 'rejected', latency_ms, detail: `seller answered ${status}` };
  if (status >= 500) return { outcome: 'failed', reason: 'server_error', latency_ms, detail: `seller answered ${status}` };
  return { outcome: 'failed', reason: 'bad_response', latency_ms, detail: `unexpected status ${status}` };
}

/** Any 409 refuses the deal; a known `error` code says why, anything else is a plain refusal. */
function conflict(body: unknown, latency_ms: number): SellerResult<never> {
  const reading = validated<{ error?: string; price?: number }>(conflictSchema, body);
  const code = 'value' in reading ? reading.value?.error : undefined;
  const reason = code !== undefined && CONFLICTS.has(code) ? (code as ConflictReason) : 'refused';
  const price_minor = ('value' in reading ? reading.value?.price : undefined) ?? null;
  return { outcome: 'conflict', reason, price_minor, latency_ms, detail: code ?? 'seller answered 409' };
}
