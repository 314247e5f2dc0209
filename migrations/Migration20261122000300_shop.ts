import { SharedMigration } from './support.js';

export class Migration20261122000300_shop extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    // The catalog is GLOBAL on CockroachDB: read everywhere locally, written rarely by admins.
    this.addSql(`CREATE TABLE items (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('game', 'currency_pack', 'skin', 'consumable')),
      price_minor INT8 NOT NULL CHECK (price_minor > 0),
      currency TEXT NOT NULL,
      active BOOL NOT NULL,
      refundable BOOL NOT NULL,
      grants_currency TEXT,
      grants_amount_minor INT8 CHECK (grants_amount_minor > 0),
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      CHECK ((grants_currency IS NULL) = (grants_amount_minor IS NULL)),
      CHECK ((kind = 'currency_pack') = (grants_currency IS NOT NULL))
    )`);
    this.addSql('CREATE INDEX items_listing ON items (created_at DESC, id DESC)');
    this.addSql(`CREATE TABLE orders (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      account_seq INT8 NOT NULL,
      mode TEXT NOT NULL CHECK (mode IN ('immediate', 'two_step')),
      status TEXT NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
      currency TEXT NOT NULL,
      total_minor INT8 NOT NULL CHECK (total_minor > 0),
      refunded_minor INT8 NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= total_minor),
      hold_id UUID,
      payment_transaction_id UUID,
      pending_until TIMESTAMPTZ,
      completed_at TIMESTAMPTZ,
      status_history JSONB NOT NULL,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql('CREATE UNIQUE INDEX orders_account_seq ON orders (account_id, account_seq)');
    this.addSql("CREATE INDEX orders_pending ON orders (pending_until) WHERE status = 'PENDING'");
    this.addSql(`CREATE TABLE order_lines (
      order_id UUID NOT NULL,
      line_no INT4 NOT NULL,
      item_id TEXT NOT NULL,
      item_name TEXT NOT NULL,
      kind TEXT NOT NULL,
      quantity INT4 NOT NULL CHECK (quantity > 0),
      refunded_quantity INT4 NOT NULL DEFAULT 0 CHECK (refunded_quantity >= 0 AND refunded_quantity <= quantity),
      unit_price_minor INT8 NOT NULL CHECK (unit_price_minor > 0),
      refundable BOOL NOT NULL,
      grants_currency TEXT,
      grants_amount_minor INT8,
      crdb_region ${region} NOT NULL,
      PRIMARY KEY (order_id, line_no)
    )`);
    this.addSql(`CREATE TABLE entitlements (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      account_seq INT8 NOT NULL,
      order_id UUID NOT NULL,
      line_no INT4 NOT NULL,
      item_id TEXT NOT NULL,
      quantity INT4 NOT NULL CHECK (quantity > 0),
      revoked_quantity INT4 NOT NULL DEFAULT 0 CHECK (revoked_quantity >= 0 AND revoked_quantity <= quantity),
      status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED')),
      crdb_region ${region} NOT NULL,
      granted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      revoked_at TIMESTAMPTZ
    )`);
    this.addSql('CREATE UNIQUE INDEX entitlements_account_seq ON entitlements (account_id, account_seq)');
    this.addSql('CREATE UNIQUE INDEX entitlements_order_line ON entitlements (order_id, line_no)');
    this.addSql(`CREATE TABLE order_refunds (
      id UUID PRIMARY KEY,
      order_id UUID NOT NULL,
      amount_minor INT8 NOT NULL CHECK (amount_minor > 0),
      lines JSONB NOT NULL,
      reason TEXT NOT NULL,
      transaction_id UUID NOT NULL,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql('CREATE INDEX order_refunds_order ON order_refunds (order_id)');
    this.addSql(`CREATE TABLE topups (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      amount_minor INT8 NOT NULL CHECK (amount_minor > 0),
      currency TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'REVERSED')),
      psp_payment_id TEXT,
      credit_transaction_id UUID,
      reversal_transaction_id UUID,
      unrecovered_minor INT8 NOT NULL DEFAULT 0,
      review_reason TEXT,
      reconciliation_required_at TIMESTAMPTZ,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql("CREATE INDEX topups_pending ON topups (created_at) WHERE status = 'PENDING' AND reconciliation_required_at IS NULL");
    this.addSql(`CREATE TABLE psp_events (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      topup_id UUID,
      payload JSONB NOT NULL,
      outcome TEXT NOT NULL,
      crdb_region ${region} NOT NULL,
      received_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql('CREATE INDEX psp_events_topup ON psp_events (topup_id)');
  }
}
