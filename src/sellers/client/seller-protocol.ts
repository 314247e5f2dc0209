import Joi from 'joi';
import type { Seller } from '../registry/seller-repository.js';
import type { SellerConfig } from '../seller-config.js';
import { httpCall, type HttpOutcome } from './http-call.js';

export interface Quote {
  available: boolean;
  price_minor: number;
  currency: string | null;
  quote_id: string;
  expires_at_ms: number;
}

export interface SellerHold {
  hold_id: string;
  price_minor: number;
  expires_at_ms: number;
}

export interface SellerOrder {
  order_id: string;
  price_minor: number;
}

/** A seller's business answer refusing the request: the seller is healthy, the deal is off. */
export type ConflictReason = 'out_of_stock' | 'quote_expired' | 'hold_expired' | 'price_changed' | 'refused';
/** The call itself failed; the first four count against the seller's circuit. */
export type FailureReason = 'timeout' | 'network' | 'server_error' | 'bad_response' | 'rate_limited' | 'aborted';

export type SellerResult<T> =
  | { outcome: 'ok'; value: T; latency_ms: number }
  | { outcome: 'conflict'; reason: ConflictReason; price_minor: number | null; latency_ms: number; detail: string }
  | { outcome: 'failed'; reason: FailureReason; latency_ms: number; detail: string };

const CIRCUIT_FAILURES = new Set<FailureReason>(['timeout', 'network', 'server_error', 'bad_response']);

/** Whether a call outcome is the seller's fault (counts toward opening its circuit). */
export function countsAsFailure(result: SellerResult<unknown>): boolean {
  return result.outcome === 'failed' && CIRCUIT_FAILURES.has(result.reason);
}

// A price of 0 is not a sale we can settle (a ledger movement is never zero): a bad answer for
// holds, orders and available quotes; a seller that does not sell a product may quote 0.
const money = Joi.number().integer().min(1).max(1e12).required();
const quotedPrice = Joi.number()
  .integer()
  .min(0)
  .max(1e12)
  .required()
  // biome-ignore lint/suspicious/noThenProperty: Joi's conditional schema API names its branch `then`
  .when('available', { is: true, then: Joi.number().min(1) });
const text = Joi.string().min(1).max(256).required();
// Sellers may add fields; only the ones we use are checked.
const OPTIONS: Joi.ValidationOptions = { allowUnknown: true, convert: false, abortEarly: true };
const quoteSchema = Joi.object({
  available: Joi.boolean().required(),
  price: quotedPrice,
  quote_id: text,
  expires_at: Joi.string().isoDate().required(),
  currency: Joi.string().max(16),
});
const holdSchema = Joi.object({ hold_id: text, price: money, expires_at: Joi.string().isoDate().required() });
const orderSchema = Joi.object({ order_id: text, status: Joi.string().valid('confirmed').required(), price: money });
const conflictSchema = Joi.object({ error: Joi.string().max(64).required(), price: Joi.number().integer().min(0) });
const CONFLICTS = new Set(['out_of_stock', 'quote_expired', 'hold_expired', 'price_changed']);

export interface CallSettings {
  timeout_ms: number;
  response_bytes_max: number;
  sockets_per_origin_max: number;
  signal?: AbortSignal;
}

export function callSettings(
  config: Pick<SellerConfig, 'response_bytes_max' | 'sockets_per_origin_max'>,
  timeout_ms: number,
  signal?: AbortSignal,
): CallSettings {
  return {
    timeout_ms,
    response_bytes_max: config.response_bytes_max,
    sockets_per_origin_max: config.sockets_per_origin_max,
    ...(signal ? { signal } : {}),
  };
}

export async function requestQuote(seller: Seller, product_id: string, settings: CallSettings): Promise<SellerResult<Quote>> {
  const outcome = await httpCall({
    method: 'GET',
    url: `${seller.base_url}/quote?product_id=${encodeURIComponent(product_id)}`,
    ...settings,
  });
  return interpret(outcome, 200, quoteSchema, (body) => ({
    available: body.available as boolean,
    price_minor: body.price as number,
    currency: (body.currency as string | undefined) ?? null,
    quote_id: body.quote_id as string,
    expires_at_ms: Date.parse(body.expires_at as string),
  }));
}

export async function requestHold(seller: Seller, quote_id: string, settings: CallSettings): Promise<SellerResult<SellerHold>> {
  const outcome = await httpCall({ method: 'POST', url: `${seller.base_url}/holds`, body: { quote_id }, ...settings });
  return interpret(outcome, 200, holdSchema, (body) => ({
    hold_id: body.hold_id as string,
    price_minor: body.price as number,
    expires_at_ms: Date.parse(body.expires_at as string),
  }));
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
  return interpret(outcome, 201, orderSchema, (body) => ({ order_id: body.order_id as string, price_minor: body.price as number }));
}

function interpret<T>(
  outcome: HttpOutcome,
  success_status: number,
  schema: Joi.ObjectSchema,
  read: (body: Record<string, unknown>) => T,
): SellerResult<T> {
  const { latency_ms } = outcome;
  if (outcome.kind === 'timeout' || outcome.kind === 'network' || outcome.kind === 'aborted') {
    return { outcome: 'failed', reason: outcome.kind, latency_ms, detail: outcome.detail };
  }
  if (outcome.kind !== 'answered') return { outcome: 'failed', reason: 'bad_response', latency_ms, detail: outcome.detail };
  const { status, body } = outcome;
  if (status === 429) return { outcome: 'failed', reason: 'rate_limited', latency_ms, detail: 'seller answered 429' };
  if (status >= 500) return { outcome: 'failed', reason: 'server_error', latency_ms, detail: `seller answered ${status}` };
  if (status === 409) return conflict(body, latency_ms);
  if (status !== success_status && !(success_status === 201 && status === 200)) {
    return { outcome: 'failed', reason: 'bad_response', latency_ms, detail: `unexpected status ${status}` };
  }
  const { error, value } = schema.validate(body, OPTIONS);
  if (error) return { outcome: 'failed', reason: 'bad_response', latency_ms, detail: error.message.slice(0, 200) };
  return { outcome: 'ok', value: read(value as Record<string, unknown>), latency_ms };
}

function conflict(body: unknown, latency_ms: number): SellerResult<never> {
  const { error, value } = conflictSchema.validate(body, OPTIONS);
  if (error)
    return { outcome: 'failed', reason: 'bad_response', latency_ms, detail: `409 without a known error: ${error.message.slice(0, 150)}` };
  const code = (value as { error: string }).error;
  const reason: ConflictReason = CONFLICTS.has(code) ? (code as ConflictReason) : 'refused';
  return { outcome: 'conflict', reason, price_minor: (value as { price?: number }).price ?? null, latency_ms, detail: code };
}
