import type { Quote, SellerResult } from '../client/seller-protocol.js';
import type { SkipReason } from '../guard/seller-gate.js';

/** What a purchase request remembers of one seller's quote: an answer, or why there is none. */
export interface QuoteRecord {
  seller_id: string;
  available: boolean | null;
  price: number | null;
  currency: string | null;
  quote_id: string | null;
  expires_at: string | null;
  latency_ms: number | null;
  /** Set when there is no usable answer: the call failure, or why the seller was not asked. */
  error: string | null;
  /** Shared from another request's fan-out (the quote cache) rather than asked for this one. */
  cached: boolean;
}

export function answeredRecord(seller_id: string, quote: Quote, latency_ms: number, cached = false): QuoteRecord {
  const offer = quote.available ? quote : undefined;
  return {
    seller_id,
    available: quote.available,
    price: offer?.price_minor ?? null,
    currency: offer?.currency ?? null,
    quote_id: offer?.quote_id ?? null,
    expires_at: offer ? new Date(offer.expires_at_ms).toISOString() : null,
    latency_ms,
    error: null,
    cached,
  };
}

export function failedRecord(seller_id: string, error: string, latency_ms: number | null = null): QuoteRecord {
  return { seller_id, available: null, price: null, currency: null, quote_id: null, expires_at: null, latency_ms, error, cached: false };
}

export function resultRecord(seller_id: string, result: SellerResult<Quote> | undefined, waited_ms: number): QuoteRecord {
  if (result === undefined) return failedRecord(seller_id, 'no_answer_in_time', waited_ms);
  if (result.outcome === 'ok') return answeredRecord(seller_id, result.value, result.latency_ms);
  return failedRecord(seller_id, result.reason, result.latency_ms);
}

export function skippedRecord(seller_id: string, reason: SkipReason): QuoteRecord {
  return failedRecord(seller_id, reason);
}

/** The purchase's currency, and what a quote naming none is in (SELLER_QUOTE_CURRENCY). */
export interface PurchaseCurrency {
  currency: string;
  quote_currency_default: string;
}

/** An offer (answered available, with a price) in the purchase's currency. */
export function isOfferIn(record: QuoteRecord, wanted: PurchaseCurrency): boolean {
  return record.available === true && record.price !== null && (record.currency ?? wanted.quote_currency_default) === wanted.currency;
}

/** Quotes a purchase may act on: offers in its currency, valid for `margin_ms` more. */
export function usableQuotes(records: readonly QuoteRecord[], wanted: PurchaseCurrency, now_ms: number, margin_ms: number): QuoteRecord[] {
  return records.filter(
    (record) =>
      isOfferIn(record, wanted) &&
      record.quote_id !== null &&
      record.expires_at !== null &&
      Date.parse(record.expires_at) > now_ms + margin_ms,
  );
}

/** Cheapest first; ties go to the faster seller, then by id, so the order is deterministic. */
export function byPrice(a: QuoteRecord, b: QuoteRecord): number {
  return (a.price ?? 0) - (b.price ?? 0) || (a.latency_ms ?? Infinity) - (b.latency_ms ?? Infinity) || (a.seller_id < b.seller_id ? -1 : 1);
}
