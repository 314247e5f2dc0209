import { SharedMigration } from './support.js';

export class Migration20261220000200_events extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    // The outbox: one row per change an integrator may react to, written by the change's own
    // transaction and never updated. `data_json` is the view as first serialized (TEXT: the API
    // and webhooks send it byte for byte). Homed with the account it belongs to.
    this.addSql(`CREATE TABLE events (
      id UUID PRIMARY KEY,
      type TEXT NOT NULL,
      account_id TEXT,
      account_seq INT8,
      api_version TEXT NOT NULL,
      data_json TEXT NOT NULL,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL
    )`);
    // An account's events in commit order (its history sequence); every event by age (the global
    // list, filtered by type or not, and retention). Every index costs each money movement an
    // insert: no more than these.
    this.addSql('CREATE INDEX events_by_account ON events (account_id, account_seq) WHERE account_id IS NOT NULL');
    this.addSql('CREATE INDEX events_by_time ON events (created_at, id)');
    // Operator configuration, read by every batch: GLOBAL on CockroachDB.
    this.addSql(`CREATE TABLE webhook_endpoints (
      id UUID PRIMARY KEY,
      url TEXT NOT NULL,
      description TEXT,
      enabled_events JSONB NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled', 'deleted')),
      secrets JSONB NOT NULL,
      disabled_reason TEXT,
      created_at TIMESTAMPTZ NOT NULL,
      updated_at TIMESTAMPTZ NOT NULL
    )`);
    this.addSql('CREATE INDEX webhook_endpoints_listing ON webhook_endpoints (created_at, id)');
    // How deliveries to each endpoint go, written by the pods delivering (never by a batch, so
    // every batch's read of webhook_endpoints stays clear of these writes).
    this.addSql(`CREATE TABLE webhook_endpoint_health (
      endpoint_id UUID PRIMARY KEY,
      failing_since TIMESTAMPTZ,
      failure_reason TEXT,
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await this.keepUpdatesInPlace('webhook_endpoint_health');
    // One row per event and endpoint, created with the event; homed with the event.
    this.addSql(`CREATE TABLE webhook_deliveries (
      id UUID PRIMARY KEY,
      endpoint_id UUID NOT NULL,
      event_id UUID NOT NULL,
      event_type TEXT NOT NULL,
      account_id TEXT,
      account_seq INT8,
      manual BOOL NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts INT4 NOT NULL CHECK (attempts >= 0),
      next_attempt_at TIMESTAMPTZ NOT NULL,
      lease_token TEXT,
      lease_owner TEXT,
      lease_expires_at TIMESTAMPTZ,
      last_attempt_at TIMESTAMPTZ,
      last_status_code INT4,
      last_latency_ms INT4,
      last_error TEXT,
      attempt_log JSONB NOT NULL DEFAULT '[]',
      delivered_at TIMESTAMPTZ,
      event_created_at TIMESTAMPTZ NOT NULL,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL
    )`);
    // The pending deliveries of an endpoint, per account in order: what a pod may claim, and what a
    // delivery waits for (the earlier ones of its account). Then an endpoint's deliveries newest first.
    this.addSql(
      "CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, account_id, account_seq) WHERE state = 'pending'",
    );
    this.addSql('CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (endpoint_id, created_at, id)');
  }
}
