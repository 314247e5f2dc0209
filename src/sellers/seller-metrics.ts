import { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../platform/metrics.js';

/** The aggregator's Prometheus metrics, registered on the pod's registry (GET /metrics). */
export interface SellerMetrics {
  seller_calls_total: Counter<'kind' | 'outcome'>;
  seller_calls_skipped_total: Counter<'reason'>;
  quote_sets_total: Counter<'source'>;
  purchase_requests_finished_total: Counter<'status'>;
  purchase_requests_review_total: Counter<'cause'>;
  purchase_request_duration_seconds: Histogram<'status'>;
  /** Fleet gauges (src/sellers/seller-gauges.ts): the same in every pod. */
  seller_circuits: Gauge<'state'>;
  purchase_requests_in_review: Gauge;
}

const BY_REGISTRY = new WeakMap<Metrics['registry'], SellerMetrics>();

export function sellerMetrics(metrics: Metrics): SellerMetrics {
  let found = BY_REGISTRY.get(metrics.registry);
  if (!found) {
    const registers = [metrics.registry];
    found = {
      seller_calls_total: new Counter({
        name: 'seller_calls_total',
        help: 'Calls to sellers by kind (quote, hold, order) and outcome (ok, a conflict, a failure)',
        labelNames: ['kind', 'outcome'],
        registers,
      }),
      seller_calls_skipped_total: new Counter({
        name: 'seller_calls_skipped_total',
        help: 'Seller calls not made: circuit open, no rate budget, no call slot, deadline',
        labelNames: ['reason'],
        registers,
      }),
      quote_sets_total: new Counter({
        name: 'seller_quote_sets_total',
        help: 'Quote sets a purchase used: fanout (asked the sellers) or shared (coalesced or cached)',
        labelNames: ['source'],
        registers,
      }),
      purchase_requests_finished_total: new Counter({
        name: 'purchase_requests_finished_total',
        help: 'Purchase requests finished, by final status',
        labelNames: ['status'],
        registers,
      }),
      purchase_requests_review_total: new Counter({
        name: 'purchase_requests_review_total',
        help: 'Purchase requests kept pending for review with their wallet hold, by cause',
        labelNames: ['cause'],
        registers,
      }),
      purchase_request_duration_seconds: new Histogram({
        name: 'purchase_request_duration_seconds',
        help: 'From acceptance to final status',
        labelNames: ['status'],
        buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 12, 15, 20, 30, 60],
        registers,
      }),
      seller_circuits: new Gauge({
        name: 'seller_circuits',
        help: 'Active sellers by circuit state (closed, open, half_open: cooldown over, probing), the same in every pod',
        labelNames: ['state'],
        registers,
      }),
      purchase_requests_in_review: new Gauge({
        name: 'purchase_requests_in_review',
        help: 'Purchase requests kept pending for review with their wallet hold (the same in every pod)',
        registers,
      }),
    };
    BY_REGISTRY.set(metrics.registry, found);
  }
  return found;
}
