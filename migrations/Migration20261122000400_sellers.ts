import { SharedMigration } from './support.js';

export class Migration20261122000400_sellers extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    // The registry is GLOBAL on CockroachDB: read by every fan-out in every region, written by admins.
    this.addSql(`CREATE TABLE sellers (
      id TEXT PRIMARY KEY,
      base_url TEXT NOT NULL,
      rate_limit_per_minute INT4 NOT NULL CHECK (rate_limit_per_minute > 0),
      timeout_ms INT4 NOT NULL CHECK (timeout_ms > 0),
      supports_holds BOOL NOT NULL,
      active BOOL NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql('CREATE INDEX sellers_listing ON sellers (created_at DESC, id DESC)');
    // Shared circuit breaker and call statistics, written after every seller call by every pod.
    // Not GLOBAL (a commit-wait per call would be far too slow): REGIONAL BY TABLE in the primary
    // region, CockroachDB's default for a table the locality map does not list.
    this.addSql(`CREATE TABLE seller_health (
      seller_id TEXT PRIMARY KEY,
      circuit_state TEXT NOT NULL DEFAULT 'closed' CHECK (circuit_state IN ('closed', 'open', 'half_open')),
      opened_at TIMESTAMPTZ,
      probe_after TIMESTAMPTZ,
      probe_lease_expires_at TIMESTAMPTZ,
      window_started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      window_calls INT4 NOT NULL DEFAULT 0,
      window_failures INT4 NOT NULL DEFAULT 0,
      latency_ms_avg INT4,
      calls_total INT8 NOT NULL DEFAULT 0,
      failures_total INT8 NOT NULL DEFAULT 0,
      last_error TEXT,
      last_call_at TIMESTAMPTZ,
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await this.keepUpdatesInPlace('seller_health');
    // Fixed-window call counters per seller, shared by all pods (same locality as seller_health).
    this.addSql(`CREATE TABLE seller_rate_windows (
      seller_id TEXT NOT NULL,
      window_start_ms INT8 NOT NULL,
      calls INT4 NOT NULL CHECK (calls >= 0),
      call_limit INT4 NOT NULL,
      PRIMARY KEY (seller_id, window_start_ms)
    )`);
    await this.keepUpdatesInPlace('seller_rate_windows');
    this.addSql('CREATE INDEX seller_rate_windows_age ON seller_rate_windows (window_start_ms)');
    // Quote cache and fan-out leases, shared by the whole fleet (one fan-out per product at a time,
    // whatever the region): keyed by product without the region, each row homed in the region of
    // the pod that wrote it last.
    this.addSql(`CREATE TABLE seller_quotes (
      crdb_region ${region} NOT NULL,
      product_id TEXT NOT NULL,
      seller_id TEXT NOT NULL,
      available BOOL NOT NULL,
      price_minor INT8 CHECK (price_minor >= 0),
      currency TEXT,
      quote_id TEXT,
      expires_at TIMESTAMPTZ,
      latency_ms INT4 NOT NULL,
      fetched_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (product_id, seller_id)
    )`);
    await this.keepUpdatesInPlace('seller_quotes');
    this.addSql('CREATE INDEX seller_quotes_age ON seller_quotes (fetched_at)');
    this.addSql(`CREATE TABLE quote_fanouts (
      crdb_region ${region} NOT NULL,
      product_id TEXT NOT NULL,
      lease_token TEXT,
      lease_expires_at TIMESTAMPTZ,
      started_at TIMESTAMPTZ,
      completed_at TIMESTAMPTZ,
      fresh_until TIMESTAMPTZ,
      PRIMARY KEY (product_id)
    )`);
    await this.keepUpdatesInPlace('quote_fanouts');
    // Purchase requests, their attempts and jobs live in the buyer's home region. Every table
    // below is updated in place while a request runs (counters, leases, status): keep it HOT.
    this.addSql(`CREATE TABLE purchase_requests (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      product_id TEXT NOT NULL,
      max_price_minor INT8 NOT NULL CHECK (max_price_minor > 0),
      currency TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'purchased', 'price_not_met', 'not_available', 'failed')),
      hold_id UUID NOT NULL,
      deadline_at TIMESTAMPTZ NOT NULL,
      quotes JSONB,
      quotes_collected_at TIMESTAMPTZ,
      final_price_minor INT8,
      seller_id TEXT,
      confirmation JSONB,
      lowest_price_minor INT8,
      failure_reason TEXT,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      finished_at TIMESTAMPTZ,
      CHECK ((status = 'pending') = (finished_at IS NULL)),
      CHECK ((status = 'purchased') = (final_price_minor IS NOT NULL))
    )`);
    await this.keepUpdatesInPlace('purchase_requests');
    this.addSql(`CREATE TABLE purchase_attempts (
      purchase_request_id UUID NOT NULL,
      position INT4 NOT NULL CHECK (position >= 1),
      seller_id TEXT NOT NULL,
      quote_id TEXT,
      quoted_price_minor INT8,
      seller_hold_id TEXT,
      held_price_minor INT8,
      state TEXT NOT NULL CHECK (state IN ('started', 'confirmed', 'failed')),
      outcome TEXT,
      detail TEXT,
      order_id TEXT,
      price_minor INT8,
      crdb_region ${region} NOT NULL,
      started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      finished_at TIMESTAMPTZ,
      PRIMARY KEY (purchase_request_id, position)
    )`);
    await this.keepUpdatesInPlace('purchase_attempts');
    this.addSql(`CREATE TABLE jobs (
      id UUID PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('purchase')),
      subject_id UUID NOT NULL,
      run_after TIMESTAMPTZ NOT NULL DEFAULT now(),
      lease_token TEXT,
      lease_owner TEXT,
      lease_expires_at TIMESTAMPTZ,
      claims INT4 NOT NULL DEFAULT 0,
      last_error TEXT,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      finished_at TIMESTAMPTZ
    )`);
    await this.keepUpdatesInPlace('jobs');
    this.addSql('CREATE UNIQUE INDEX jobs_subject ON jobs (kind, subject_id)');
    this.addSql('CREATE INDEX jobs_runnable ON jobs (run_after) WHERE finished_at IS NULL');
  }
}
