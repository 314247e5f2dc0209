import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SellerDeps } from '../seller-services.js';
import type { CallSlots } from '../client/call-slots.js';
import type { OutboundAgents } from '../client/http-call.js';
import { listActiveSellers } from '../registry/seller-repository.js';
import { fanOut } from './fan-out.js';
import {
  abandonFanOut,
  claimFanOut,
  lastCompletedFanOut,
  publishFanOut,
  readFanOut,
  readHistory,
  readPublishedQuotes,
} from './quote-cache.js';
import type { QuoteRecord } from './quote-record.js';

export interface QuoteSet {
  quotes: QuoteRecord[];
  /** 'fanout': this caller asked the sellers; 'shared': another request's fan-out (running or cached) answered. */
  source: 'fanout' | 'shared';
  sellers_asked: number;
}

// A fan-out lease outlives the fan-out's own deadline by this much.
const LEASE_MARGIN_MS = 2000;

/**
 * Request coalescing: concurrent requests for one product share one fan-out.
 * - In a pod: single-flight, the second caller awaits the first caller's promise.
 * - Across pods and regions: a lease row per product (quote_fanouts); one pod of the fleet fans
 *   out and publishes its answers in the quote cache, the others poll until they are published
 *   (on CockroachDB a cross-region read for pods of other regions: ~100 ms, once per request).
 * - Over time: published quotes are reused while fresh (a TTL shorter than the quotes' validity).
 */
export class QuoteCoalescer {
  private readonly inflight = new Map<string, Promise<QuoteSet>>();

  constructor(
    private readonly deps: SellerDeps,
    private readonly slots: CallSlots,
    private readonly agents: OutboundAgents,
    private readonly owner: string,
  ) {}

  quotes(product_id: string, deadline_ms: number, joins_left = 1): Promise<QuoteSet> {
    if (!this.deps.config.sellers.coalescing) return this.fanOut(product_id, deadline_ms);
    const running = this.inflight.get(product_id);
    if (running) {
      return running.then((set) => {
        // The flight got no answer at all: try once more rather than share a failure.
        if (!set.quotes.some((quote) => quote.available !== null) && joins_left > 0)
          return this.quotes(product_id, deadline_ms, joins_left - 1);
        return { quotes: set.quotes.map((quote) => ({ ...quote, cached: true })), source: 'shared' as const, sellers_asked: 0 };
      });
    }
    const loading = this.load(product_id, deadline_ms).finally(() => this.inflight.delete(product_id));
    this.inflight.set(product_id, loading);
    return loading;
  }

  /** Uses a fresh or just-published fan-out of the fleet, else runs one under the lease; bounded by the deadline. */
  private async load(product_id: string, deadline_ms: number): Promise<QuoteSet> {
    const poll_ms = this.deps.config.sellers.coalesce_poll_ms;
    const rounds_max = Math.ceil(Math.max(0, deadline_ms - Date.now()) / poll_ms) + 2;
    let waiting_since_ms: number | undefined;
    for (let round = 0; round < rounds_max; round += 1) {
      const state = await readFanOut(this.deps, product_id);
      waiting_since_ms ??= state.db_now_ms;
      const published_since_we_asked = state.completed_at_ms !== null && state.completed_at_ms >= waiting_since_ms;
      if (state.started_at !== null && (state.fresh || published_since_we_asked)) {
        return { quotes: await readPublishedQuotes(this.deps, product_id, state.started_at), source: 'shared', sellers_asked: 0 };
      }
      if (!state.lease_live) {
        const token = `${this.owner}:${randomUUID()}`;
        const lease_ms = Math.max(0, deadline_ms - Date.now()) + LEASE_MARGIN_MS;
        if (await claimFanOut(this.deps, this.deps.region, product_id, token, lease_ms))
          return this.fanOutAndPublish(product_id, token, deadline_ms);
        continue;
      }
      if (Date.now() + poll_ms > deadline_ms) break;
      await sleep(poll_ms);
    }
    // Out of time while another caller fans out: the last published quotes, however old (the
    // purchase uses only those still valid), are better than none.
    const last_started_at = await lastCompletedFanOut(this.deps, product_id);
    const quotes = last_started_at === undefined ? [] : await readPublishedQuotes(this.deps, product_id, last_started_at);
    return { quotes, source: 'shared', sellers_asked: 0 };
  }

  private async fanOutAndPublish(product_id: string, token: string, deadline_ms: number): Promise<QuoteSet> {
    let set: QuoteSet;
    try {
      set = await this.fanOut(product_id, deadline_ms);
    } catch (error) {
      await abandonFanOut(this.deps, product_id, token).catch(() => undefined);
      throw error;
    }
    const { quote_cache_ttl_ms, quote_expiry_margin_ms } = this.deps.config.sellers;
    const answers = set.quotes.filter((quote) => quote.available !== null);
    if (answers.length === 0) {
      // Nothing to share (every call failed or was skipped): the next request must fan out again.
      await abandonFanOut(this.deps, product_id, token).catch(() => undefined);
      return set;
    }
    // Shared for the TTL, and never beyond the earliest expiry of an available quote (minus the margin).
    const expiries = answers
      .filter((quote) => quote.available && quote.expires_at)
      .map((quote) => Date.parse(quote.expires_at!) - quote_expiry_margin_ms);
    const fresh_until_ms = Math.max(Date.now(), Math.min(Date.now() + quote_cache_ttl_ms, ...expiries));
    try {
      await publishFanOut(this.deps, { region: this.deps.region, product_id, token, answers, fresh_until_ms });
    } catch (error) {
      // The requester has its quotes; the others may fan out themselves at once.
      this.deps.logger.warn({ err: error, product_id }, 'publishing quotes failed');
      await abandonFanOut(this.deps, product_id, token).catch(() => undefined);
    }
    return set;
  }

  private async fanOut(product_id: string, deadline_ms: number): Promise<QuoteSet> {
    const sellers = await this.deps.transactions.read((tx) => listActiveSellers(tx));
    const history = await readHistory(this.deps, product_id);
    const result = await fanOut(this.deps, this.slots, this.agents, { product_id, sellers, history, deadline_ms });
    return { quotes: result.quotes, source: 'fanout', sellers_asked: result.sellers_asked };
  }
}
