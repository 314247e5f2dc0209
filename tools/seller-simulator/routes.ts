import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, pause, rateLimited, readJson, sendReply } from './http-io.js';
import { holdBodySchema, idempotencyKeySchema, orderBodySchema } from './schemas.js';
import type { OrderRequest, Reply, SellerState } from './seller-state.js';
import type { CallKind } from './stats.js';

const SELLER_PATH = /^\/sellers\/([A-Za-z0-9_-]{1,64})\/(quote|holds|orders)$/;
const ENDPOINTS: Record<string, { method: string; kind: CallKind }> = {
  quote: { method: 'GET', kind: 'quote' },
  holds: { method: 'POST', kind: 'hold' },
  orders: { method: 'POST', kind: 'order' },
};
const PRODUCT_ID = /^.{1,128}$/;

export interface RouteContext {
  sellers: Map<string, SellerState>;
  baseUrl(seller_id: string): string;
}

interface SellerCall {
  seller: SellerState;
  kind: CallKind;
  url: URL;
  req: IncomingMessage;
}

const notFound = (error = 'not_found'): Reply => ({ status: 404, body: { error } });

export async function dispatch(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator.invalid');
  if (req.method === 'GET' && url.pathname === '/sellers') return sendReply(res, directory(ctx));
  const match = SELLER_PATH.exec(url.pathname);
  const endpoint = ENDPOINTS[match?.[2] ?? ''];
  const seller = ctx.sellers.get(match?.[1] ?? '');
  if (!endpoint || !seller) return sendReply(res, notFound(seller || !endpoint ? 'not_found' : 'unknown_seller'));
  if (req.method !== endpoint.method)
    return sendReply(res, { status: 405, body: { error: 'method_not_allowed' }, headers: { Allow: endpoint.method } });
  await serveCall({ seller, kind: endpoint.kind, url, req }, res, signal);
}

/** Rate limit, then the seller's fate (hang, fail or serve after its latency), then the answer. */
async function serveCall(call: SellerCall, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const now = Date.now();
  call.seller.stats.recordCall(call.kind, now);
  const wait_ms = call.seller.admit(now);
  if (wait_ms !== null) return sendReply(res, rateLimited(wait_ms));
  const body = call.kind === 'quote' ? { value: undefined } : await readJson(call.req);
  const fate = call.seller.drawFate();
  if (fate.kind === 'hang') {
    await pause(fate.ms, signal);
    res.destroy();
    return;
  }
  if (!(await pause(fate.delay_ms, signal))) return;
  if (fate.kind === 'fail') return sendReply(res, { status: 500, body: { error: 'internal_error' } });
  sendReply(res, 'status' in body ? body : answer(call, body.value));
}

function answer(call: SellerCall, body: unknown): Reply {
  const now = Date.now();
  if (call.kind === 'quote') {
    const product_id = call.url.searchParams.get('product_id') ?? '';
    if (!PRODUCT_ID.test(product_id)) return badRequest('validation_error', 'product_id is required (1..128 characters)');
    return call.seller.quote(product_id, now);
  }
  if (call.kind === 'hold') return answerHold(call.seller, body, now);
  return answerOrder(call, body, now);
}

function answerHold(seller: SellerState, body: unknown, now: number): Reply {
  if (!seller.spec.supports_holds) return notFound();
  const { error, value } = holdBodySchema.validate(body);
  if (error) return badRequest('validation_error', error.message);
  return seller.hold((value as { quote_id: string }).quote_id, now);
}

function answerOrder(call: SellerCall, body: unknown, now: number): Reply {
  const key = call.req.headers['idempotency-key'];
  if (key === undefined) return badRequest('idempotency_key_required', 'send an Idempotency-Key header');
  if (typeof key !== 'string' || idempotencyKeySchema.validate(key).error) {
    return badRequest('validation_error', 'Idempotency-Key must be 1..255 printable ASCII');
  }
  const { error, value } = orderBodySchema.validate(body);
  if (error) return badRequest('validation_error', error.message);
  const request = value as OrderRequest;
  if ('hold_id' in request && !call.seller.spec.supports_holds) {
    return badRequest('validation_error', 'this seller has no holds; order with quote_id');
  }
  return call.seller.order(key, request, now);
}

function directory(ctx: RouteContext): Reply {
  const sellers = [...ctx.sellers.values()].map(({ spec }) => ({
    id: spec.id,
    base_url: ctx.baseUrl(spec.id),
    currency: spec.currency,
    supports_holds: spec.supports_holds,
    rate_limit_per_minute: spec.rate_limit_per_minute,
  }));
  return { status: 200, body: { data: sellers } };
}
