import { randomUUID } from 'node:crypto';
import { createPrng, hashSeed, sampleLatency, type Prng } from './prng.js';
import { patchSpec } from './spec.js';
import { CallStats, windowStart } from './stats.js';
import type { ResolvedSellerSpec, SellerBehaviourPatch, SimulatedOrder } from './types.js';

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** What happens to an admitted call before (or instead of) its answer. */
export type Fate = { kind: 'hang'; ms: number } | { kind: 'fail'; delay_ms: number } | { kind: 'serve'; delay_ms: number };

interface Offer {
  product_id: string;
  price: number;
  expires_at: number;
}

export type OrderRequest = { hold_id: string } | { quote_id: string };

const conflict = (error: string, extra: Record<string, unknown> = {}): Reply => ({ status: 409, body: { error, ...extra } });
const rfc3339 = (ms: number) => new Date(ms).toISOString();

/** One seller's catalogue, stock, quotes, holds and orders; every method is synchronous, so calls never interleave. */
export class SellerState {
  readonly stats: CallStats;
  private readonly rng: Prng;
  private readonly quotes = new Map<string, Offer>();
  private readonly holds = new Map<string, Offer>();
  private readonly orders_by_key = new Map<string, SimulatedOrder>();
  private rate_window = { start: 0, count: 0 };

  constructor(
    private current: ResolvedSellerSpec,
    private readonly window_ms: number,
    seed: number,
  ) {
    this.stats = new CallStats(window_ms);
    this.rng = createPrng(hashSeed(`${seed}:${current.id}`));
  }

  get spec(): ResolvedSellerSpec {
    return this.current;
  }

  update(patch: SellerBehaviourPatch): void {
    this.current = patchSpec(this.current, patch);
  }

  orders(): SimulatedOrder[] {
    return [...this.orders_by_key.values()].map((order) => ({ ...order }));
  }

  /** Fixed window aligned to multiples of window_ms; returns ms until the window ends when over the limit. */
  admit(now: number): number | null {
    const start = windowStart(now, this.window_ms);
    if (start !== this.rate_window.start) this.rate_window = { start, count: 0 };
    this.rate_window.count += 1;
    const limit = this.current.rate_limit_per_minute;
    if (limit === null || this.rate_window.count <= limit) return null;
    this.stats.increment('rejected_429');
    return start + this.window_ms - now;
  }

  drawFate(): Fate {
    if (this.rng() < this.current.timeout_rate) {
      this.stats.increment('timeouts');
      return { kind: 'hang', ms: this.current.hang_ms };
    }
    const delay_ms = sampleLatency(this.rng, this.current.latency_ms);
    if (this.rng() >= this.current.error_rate) return { kind: 'serve', delay_ms };
    this.stats.increment('errors_500');
    return { kind: 'fail', delay_ms };
  }

  quote(product_id: string, now: number): Reply {
    this.sweep(now);
    const price = this.current.prices[product_id];
    const quote_id = `q_${randomUUID()}`;
    const offer = { product_id, price: price ?? 0, expires_at: now + this.current.quote_ttl_ms };
    this.quotes.set(quote_id, offer);
    const available = price !== undefined && this.available(product_id) > 0;
    const body = { available, price: offer.price, currency: this.current.currency, quote_id, expires_at: rfc3339(offer.expires_at) };
    return { status: 200, body };
  }

  hold(quote_id: string, now: number): Reply {
    this.sweep(now);
    const quote = this.liveQuote(quote_id, now);
    if (!quote) return conflict('quote_expired');
    // The hold carries today's price, so a client can notice that it moved since the quote.
    const price = this.current.prices[quote.product_id];
    if (price === undefined || this.available(quote.product_id) < 1) return conflict('out_of_stock');
    const hold_id = `h_${randomUUID()}`;
    const expires_at = now + this.current.hold_ttl_ms;
    this.holds.set(hold_id, { product_id: quote.product_id, price, expires_at });
    return { status: 200, body: { hold_id, price, expires_at: rfc3339(expires_at) } };
  }

  order(idempotency_key: string, request: OrderRequest, now: number): Reply {
    const previous = this.orders_by_key.get(idempotency_key);
    if (previous) return { ...confirmation(previous), headers: { 'Idempotent-Replayed': 'true' } };
    this.sweep(now);
    const taken = 'hold_id' in request ? this.takeHold(request.hold_id, now) : this.priceQuote(request.quote_id, now);
    if ('status' in taken) return taken;
    this.current.stock[taken.product_id] = (this.current.stock[taken.product_id] ?? 0) - 1;
    const order = { order_id: `o_${randomUUID()}`, idempotency_key, product_id: taken.product_id, price: taken.price };
    this.orders_by_key.set(idempotency_key, order);
    this.stats.increment('orders_created');
    return confirmation(order);
  }

  /** Consumes the hold: its reserved unit becomes the ordered one. */
  private takeHold(hold_id: string, now: number): Offer | Reply {
    const hold = this.holds.get(hold_id);
    if (!hold || hold.expires_at <= now) return conflict('hold_expired');
    this.holds.delete(hold_id);
    // setStock may have cut stock below what was held.
    if ((this.current.stock[hold.product_id] ?? 0) < 1) return conflict('out_of_stock');
    return hold;
  }

  private priceQuote(quote_id: string, now: number): Offer | Reply {
    const quote = this.liveQuote(quote_id, now);
    if (!quote) return conflict('quote_expired');
    const price = this.current.prices[quote.product_id];
    if (price === undefined || this.available(quote.product_id) < 1) return conflict('out_of_stock');
    // A rise needs the buyer's consent; a drop is passed on.
    if (price > quote.price) return conflict('price_changed', { price });
    return { ...quote, price };
  }

  private liveQuote(quote_id: string, now: number): Offer | undefined {
    const quote = this.quotes.get(quote_id);
    return quote && quote.expires_at > now ? quote : undefined;
  }

  /** Stock not reserved by a live hold. */
  private available(product_id: string): number {
    let reserved = 0;
    for (const hold of this.holds.values()) if (hold.product_id === product_id) reserved += 1;
    return (this.current.stock[product_id] ?? 0) - reserved;
  }

  private sweep(now: number): void {
    // Quotes are many, so stop at the first live one (insertion order ≈ expiry order); a quote that
    // outlives this sweep is still refused by liveQuote.
    for (const [quote_id, quote] of this.quotes) {
      if (quote.expires_at > now) break;
      this.quotes.delete(quote_id);
    }
    // Holds are few (each reserves a unit of stock), so a full pass keeps reservations exact.
    for (const [hold_id, hold] of this.holds) if (hold.expires_at <= now) this.holds.delete(hold_id);
  }
}

function confirmation(order: SimulatedOrder): Reply {
  return { status: 201, body: { order_id: order.order_id, status: 'confirmed', price: order.price } };
}
