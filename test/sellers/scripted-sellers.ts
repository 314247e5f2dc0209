import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Sellers that speak the protocol the way real, careless or hostile sellers do, each scripted by
 * a test: extra fields everywhere, `{available: false}` and nothing else for what they do not
 * sell, holds answered 201, orders confirmed at another price, order calls left unanswered
 * (the order made all the same). One node:http server, one path per seller.
 */
export interface ScriptedSeller {
  id: string;
  /** Products sold, at their quoted price; any other product is answered `{available: false}` only. */
  prices: Record<string, number>;
  supports_holds: boolean;
  /** Status of a hold answer; default 200. */
  hold_status?: number;
  /** Price a hold is made at; default the quoted price. */
  hold_price?: number;
  /** Price an order is confirmed at; default the held (or quoted) price. */
  order_price?: number;
  /** Order calls to leave unanswered (the socket is held until the caller gives up). */
  silent_order_calls: number;
  /** Whether an unanswered order call makes the order all the same (it did, and the answer was lost). */
  silent_calls_make_orders: boolean;
  /** Answer order calls with this instead of confirming (after the silent ones). */
  order_refusal?: { status: number; body: unknown };
  /** Answer a re-sent order, already made, with this (a seller still busy with the first send). */
  refuse_resends?: { status: number; body: unknown };
  /** Appended to every quote id (text a database refuses, say). */
  quote_id_suffix?: string;
  /** The `status` of a confirmed order; default `confirmed`. */
  order_status?: string;
  /** Answer a quote for a product not sold with 404 `{"error": "unknown_product"}`, as many real sellers do. */
  unknown_product_404?: boolean;
}

export interface ScriptedOrder {
  order_id: string;
  idempotency_key: string;
  price: number;
}

export interface ScriptedCalls {
  quote: number;
  hold: number;
  order: number;
}

export class ScriptedSellers {
  private readonly orders_by_seller = new Map<string, Map<string, ScriptedOrder>>();
  private readonly calls_by_seller = new Map<string, ScriptedCalls>();

  private constructor(
    private readonly sellers: Map<string, ScriptedSeller>,
    private readonly server: ReturnType<typeof createServer>,
    readonly url: string,
  ) {}

  static async start(sellers: ScriptedSeller[]): Promise<ScriptedSellers> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const host = new ScriptedSellers(new Map(sellers.map((seller) => [seller.id, seller])), server, `http://127.0.0.1:${port}`);
    server.on('request', (request, response) => void host.serve(request, response));
    return host;
  }

  baseUrl(seller_id: string): string {
    return `${this.url}/sellers/${seller_id}`;
  }

  /** The live script of a seller: a test changes it as the story goes on. */
  seller(seller_id: string): ScriptedSeller {
    const seller = this.sellers.get(seller_id);
    if (!seller) throw new RangeError(`no scripted seller ${seller_id}`);
    return seller;
  }

  orders(seller_id: string): ScriptedOrder[] {
    return [...(this.orders_by_seller.get(seller_id)?.values() ?? [])];
  }

  calls(seller_id: string): ScriptedCalls {
    return { ...(this.calls_by_seller.get(seller_id) ?? { quote: 0, hold: 0, order: 0 }) };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const [, root, seller_id, endpoint] = url.pathname.split('/');
    const seller = root === 'sellers' ? this.sellers.get(seller_id ?? '') : undefined;
    const body = await readBody(request);
    if (!seller) return answer(response, 404, { error: 'not_found' });
    const calls = this.calls_by_seller.get(seller.id) ?? { quote: 0, hold: 0, order: 0 };
    this.calls_by_seller.set(seller.id, calls);
    if (request.method === 'GET' && endpoint === 'quote') {
      calls.quote += 1;
      const product_id = url.searchParams.get('product_id') ?? '';
      if (seller.unknown_product_404 && seller.prices[product_id] === undefined) return answer(response, 404, { error: 'unknown_product' });
      return answer(response, 200, quoteOf(seller, product_id));
    }
    if (request.method === 'POST' && endpoint === 'holds' && seller.supports_holds) {
      calls.hold += 1;
      const product_id = String(body['quote_id'] ?? '').replace(/^q:/, '');
      const price = seller.hold_price ?? seller.prices[product_id];
      if (price === undefined) return answer(response, 409, { error: 'out_of_stock' });
      const expires_at = new Date(Date.now() + 60_000).toISOString();
      return answer(response, seller.hold_status ?? 200, { hold_id: `h:${product_id}:${price}`, price, expires_at, note: 'held' });
    }
    if (request.method === 'POST' && endpoint === 'orders') {
      calls.order += 1;
      return this.order(seller, String(request.headers['idempotency-key'] ?? ''), body, response);
    }
    return answer(response, 404, { error: 'not_found' });
  }

  /** Idempotent by key, as the protocol requires: a re-sent order gets the order made the first time. */
  private order(seller: ScriptedSeller, key: string, body: Record<string, unknown>, response: ServerResponse): void {
    const orders = this.orders_by_seller.get(seller.id) ?? new Map<string, ScriptedOrder>();
    this.orders_by_seller.set(seller.id, orders);
    const silent = seller.silent_order_calls > 0;
    if (silent) seller.silent_order_calls -= 1;
    if (!silent && seller.refuse_resends && orders.has(key)) {
      answer(response, seller.refuse_resends.status, seller.refuse_resends.body);
      return;
    }
    if (!silent && seller.order_refusal && !orders.has(key)) {
      answer(response, seller.order_refusal.status, seller.order_refusal.body);
      return;
    }
    if (!orders.has(key) && (!silent || seller.silent_calls_make_orders)) {
      orders.set(key, { order_id: `o-${seller.id}-${orders.size + 1}`, idempotency_key: key, price: orderPrice(seller, body) });
    }
    // Silent: the socket stays open until the caller times out and drops it.
    if (silent) return;
    const order = orders.get(key)!;
    answer(response, 201, { order_id: order.order_id, status: seller.order_status ?? 'confirmed', price: order.price, eta: 'soon' });
  }
}

function quoteOf(seller: ScriptedSeller, product_id: string): Record<string, unknown> {
  const price = seller.prices[product_id];
  if (price === undefined) return { available: false };
  return {
    available: true,
    price,
    quote_id: `q:${product_id}${seller.quote_id_suffix ?? ''}`,
    expires_at: new Date(Date.now() + 60_000).toISOString(),
    currency: 'EUR',
    seller_rating: 4.5,
  };
}

function orderPrice(seller: ScriptedSeller, body: Record<string, unknown>): number {
  if (seller.order_price !== undefined) return seller.order_price;
  const [, product_id = '', held = ''] = String(body['hold_id'] ?? body['quote_id'] ?? '').split(':');
  return held === '' ? seller.prices[product_id]! : Number(held);
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}
