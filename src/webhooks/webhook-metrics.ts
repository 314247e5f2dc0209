import { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../platform/metrics.js';

/** Webhook delivery metrics on the pod's registry (GET /metrics); their labels are endpoint ids, bounded by WEBHOOK_ENDPOINTS_MAX. */
export interface WebhookMetrics {
  /** From the event's commit to the endpoint's 2xx. */
  webhook_delivery_lag_seconds: Histogram<'endpoint_id'>;
  /** Attempts by outcome: delivered, retry (failed, will be retried), failed (given up). */
  webhook_deliveries_total: Counter<'endpoint_id' | 'outcome'>;
  webhook_attempt_duration_seconds: Histogram<'endpoint_id'>;
  /** Deliveries a claim found waiting behind an earlier one of their account, and set aside. */
  webhook_deliveries_set_aside_total: Counter<'endpoint_id'>;
  /** Deliveries held here but given back unattempted because their lease was ending: more were held than could be sent. */
  webhook_deliveries_unsent_total: Counter<'endpoint_id'>;
  /** Drops a deleted endpoint's series: endpoints come and go, the label values must not pile up. */
  forget(endpoint_id: string): void;
}

export function createWebhookMetrics(metrics: Metrics, queue_depth: () => Map<string, number>): WebhookMetrics {
  const registers = [metrics.registry];
  new Gauge({
    name: 'webhook_queue_depth',
    help: 'Deliveries this pod holds per endpoint, queued or in flight (at most WEBHOOK_QUEUE_PER_ENDPOINT_MAX)',
    labelNames: ['endpoint_id'],
    registers,
    collect() {
      this.reset();
      for (const [endpoint_id, depth] of queue_depth()) this.set({ endpoint_id }, depth);
    },
  });
  const made = {
    webhook_delivery_lag_seconds: new Histogram({
      name: 'webhook_delivery_lag_seconds',
      help: "From an event's commit to the 2xx of the endpoint it was delivered to",
      labelNames: ['endpoint_id'],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600, 72 * 3600],
      registers,
    }),
    webhook_deliveries_total: new Counter({
      name: 'webhook_deliveries_total',
      help: 'Delivery attempts by outcome: delivered (2xx), retry (will be retried), failed (given up after the retry window)',
      labelNames: ['endpoint_id', 'outcome'],
      registers,
    }),
    webhook_attempt_duration_seconds: new Histogram({
      name: 'webhook_attempt_duration_seconds',
      help: 'Duration of one delivery attempt (the endpoint answering or failing)',
      labelNames: ['endpoint_id'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    webhook_deliveries_set_aside_total: new Counter({
      name: 'webhook_deliveries_set_aside_total',
      help: 'Deliveries found waiting behind an earlier one of their account (being sent or retried), set aside until it is done',
      labelNames: ['endpoint_id'],
      registers,
    }),
    webhook_deliveries_unsent_total: new Counter({
      name: 'webhook_deliveries_unsent_total',
      help: 'Deliveries a pod held but gave back unattempted because their lease was ending (held more than it could send in time)',
      labelNames: ['endpoint_id'],
      registers,
    }),
  };
  return {
    ...made,
    forget(endpoint_id) {
      made.webhook_delivery_lag_seconds.remove({ endpoint_id });
      made.webhook_attempt_duration_seconds.remove({ endpoint_id });
      made.webhook_deliveries_set_aside_total.remove({ endpoint_id });
      made.webhook_deliveries_unsent_total.remove({ endpoint_id });
      for (const outcome of ['delivered', 'retry', 'failed']) made.webhook_deliveries_total.remove({ endpoint_id, outcome });
    },
  };
}
