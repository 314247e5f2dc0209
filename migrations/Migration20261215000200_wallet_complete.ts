import { SharedMigration } from './support.js';

/**
 * The wallet, complete (SPEC §10): account status, KYC tiers and per-account limit overrides,
 * merchants with fee plans, daily and hourly usage on each wallet row (the account's own row:
 * read and written by the batch that moves it, never a hot row of its own), metadata on money
 * objects, withdrawals with their payout event log, AML review flags, the compliance action log,
 * and the indexes of past balances, statements and exports.
 */
export class Migration20261215000200_wallet_complete extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    await this.accounts();
    await this.wallets();
    this.moneyObjects();
    await this.replaceCheck('jobs', 'kind', "CHECK (kind IN ('purchase', 'payout'))");
    this.withdrawals(region);
    this.compliance(region);
  }

  private async accounts(): Promise<void> {
    this.addSql("ALTER TABLE accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'active'");
    this.addSql("ALTER TABLE accounts ADD CONSTRAINT accounts_status_check CHECK (status IN ('active', 'frozen', 'closed'))");
    this.addSql('ALTER TABLE accounts ADD COLUMN kyc_tier INT4 NOT NULL DEFAULT 0');
    this.addSql('ALTER TABLE accounts ADD CONSTRAINT accounts_kyc_tier_check CHECK (kyc_tier >= 0 AND kyc_tier <= 2)');
    // Limits of this account that differ from its tier's: {"daily_debits_max_minor": 500000, ...}.
    this.addSql("ALTER TABLE accounts ADD COLUMN limit_overrides JSONB NOT NULL DEFAULT '{}'::jsonb");
    // A merchant's fee plan: basis points of each payment, and a minimum fee in the payment's minor units.
    this.addSql('ALTER TABLE accounts ADD COLUMN fee_bps INT4');
    this.addSql('ALTER TABLE accounts ADD COLUMN fee_min_minor INT8');
    await this.replaceCheck('accounts', 'kind', "CHECK (kind IN ('player', 'system', 'merchant'))");
    this.addSql(
      `ALTER TABLE accounts ADD CONSTRAINT accounts_fee_plan_check CHECK ((kind = 'merchant') = (fee_bps IS NOT NULL)
         AND (kind = 'merchant') = (fee_min_minor IS NOT NULL) AND fee_bps >= 0 AND fee_bps <= 10000 AND fee_min_minor >= 0)`,
    );
  }

  private async wallets(): Promise<void> {
    // A merchant's wallet may go below zero (within the configured credit limit) when refunds
    // take its revenue share back; no player's wallet ever may.
    this.addSql('ALTER TABLE wallets ADD COLUMN overdraft_allowed BOOL NOT NULL DEFAULT false');
    this.addSql('ALTER TABLE wallets DROP CONSTRAINT wallets_no_overdraft');
    this.addSql('ALTER TABLE wallets ADD CONSTRAINT wallets_no_overdraft CHECK (balance_minor - held_minor >= 0 OR overdraft_allowed)');
    // What the wallet moved out in the current UTC day and hour (KYC limits and velocity checks).
    this.addSql('ALTER TABLE wallets ADD COLUMN usage_day_start TIMESTAMPTZ');
    this.addSql('ALTER TABLE wallets ADD COLUMN debits_today_minor INT8 NOT NULL DEFAULT 0');
    this.addSql('ALTER TABLE wallets ADD COLUMN transfers_out_today_minor INT8 NOT NULL DEFAULT 0');
    this.addSql('ALTER TABLE wallets ADD COLUMN withdrawals_today_minor INT8 NOT NULL DEFAULT 0');
    this.addSql('ALTER TABLE wallets ADD COLUMN usage_hour_start TIMESTAMPTZ');
    this.addSql('ALTER TABLE wallets ADD COLUMN transfers_out_this_hour INT4 NOT NULL DEFAULT 0');
    // Limits already flagged for AML review in the current windows: one flag per limit and window.
    this.addSql("ALTER TABLE wallets ADD COLUMN flagged_limits JSONB NOT NULL DEFAULT '[]'::jsonb");
  }

  private moneyObjects(): void {
    for (const table of ['ledger_transactions', 'holds', 'orders', 'topups']) {
      this.addSql(`ALTER TABLE ${table} ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}'::jsonb`);
    }
    this.addSql('ALTER TABLE ledger_transactions ADD COLUMN withdrawal_id UUID');
    this.addSql('ALTER TABLE ledger_transactions ADD COLUMN merchant_id TEXT');
    // History filtered by metadata[key]=value: containment (@>), served by an inverted index on both engines.
    this.addSql('CREATE INDEX ledger_transactions_metadata ON ledger_transactions USING GIN (metadata)');
    // Exports and large-transaction reports walk a time range of transactions.
    this.addSql('CREATE INDEX ledger_transactions_created ON ledger_transactions (created_at, id)');
    // Past balances and statements: an account's entries in one currency by time.
    this.addSql(
      `CREATE INDEX ledger_entries_account_time ON ledger_entries (account_id, currency, created_at, account_seq)
       WHERE account_seq IS NOT NULL`,
    );
    this.addSql('ALTER TABLE items ADD COLUMN merchant_id TEXT');
    this.addSql('ALTER TABLE items ADD COLUMN revenue_share_bps INT4');
    this.addSql(
      `ALTER TABLE items ADD CONSTRAINT items_revenue_share_check CHECK ((merchant_id IS NULL) = (revenue_share_bps IS NULL)
         AND revenue_share_bps >= 0 AND revenue_share_bps <= 10000)`,
    );
    // Snapshotted at order time like the price: the merchant paid for the line, and its share.
    this.addSql('ALTER TABLE order_lines ADD COLUMN merchant_id TEXT');
    this.addSql('ALTER TABLE order_lines ADD COLUMN merchant_share_minor INT8 NOT NULL DEFAULT 0');
    // Money refunded against the line (by lines, or its part of an amount): the merchant's take-back follows it.
    this.addSql('ALTER TABLE order_lines ADD COLUMN refunded_minor INT8 NOT NULL DEFAULT 0');
  }

  private withdrawals(region: string): void {
    this.addSql(`CREATE TABLE withdrawals (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      account_seq INT8 NOT NULL,
      amount_minor INT8 NOT NULL CHECK (amount_minor > 0),
      currency TEXT NOT NULL,
      destination JSONB NOT NULL,
      metadata JSONB NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('PENDING', 'PAID', 'FAILED')),
      payout_id TEXT,
      provider_status TEXT,
      failure_reason TEXT,
      debit_transaction_id UUID NOT NULL,
      settlement_transaction_id UUID,
      status_history JSONB NOT NULL,
      reconciliation_required_at TIMESTAMPTZ,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL,
      updated_at TIMESTAMPTZ NOT NULL,
      settled_at TIMESTAMPTZ,
      CHECK ((status = 'PENDING') = (settled_at IS NULL)),
      CHECK ((status = 'PENDING') = (settlement_transaction_id IS NULL))
    )`);
    this.addSql('CREATE UNIQUE INDEX withdrawals_account_seq ON withdrawals (account_id, account_seq)');
    this.addSql("CREATE INDEX withdrawals_pending ON withdrawals (account_id) WHERE status = 'PENDING'");
    this.addSql(
      "CREATE INDEX withdrawals_unanswered ON withdrawals (created_at) WHERE status = 'PENDING' AND reconciliation_required_at IS NULL",
    );
    // Every validly signed payout callback, once, like the PSP event log.
    this.addSql(`CREATE TABLE payout_events (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      withdrawal_id UUID,
      payload JSONB,
      body_base64 TEXT,
      outcome TEXT NOT NULL,
      review_reason TEXT,
      conflicts_with TEXT,
      review_settled_at TIMESTAMPTZ,
      review_settlement TEXT,
      crdb_region ${region} NOT NULL,
      received_at TIMESTAMPTZ NOT NULL
    )`);
    this.addSql('CREATE INDEX payout_events_withdrawal ON payout_events (withdrawal_id)');
    this.addSql(
      'CREATE INDEX payout_events_held ON payout_events (received_at) WHERE review_reason IS NOT NULL AND review_settled_at IS NULL',
    );
  }

  private compliance(region: string): void {
    // The AML review queue: velocity breaches that were refused.
    this.addSql(`CREATE TABLE review_flags (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      limit_name TEXT NOT NULL,
      limit_value INT8 NOT NULL,
      used INT8 NOT NULL,
      attempted INT8 NOT NULL,
      operation TEXT NOT NULL,
      window_start TIMESTAMPTZ NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
      resolution TEXT,
      resolved_by TEXT,
      resolved_at TIMESTAMPTZ,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL
    )`);
    this.addSql('CREATE INDEX review_flags_listing ON review_flags (created_at, id)');
    // Who changed an account's status, tier or limits, when and why.
    this.addSql(`CREATE TABLE compliance_actions (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      account_seq INT8 NOT NULL,
      action TEXT NOT NULL CHECK (action IN ('freeze', 'unfreeze', 'close', 'kyc_tier', 'limits')),
      actor TEXT NOT NULL,
      reason TEXT,
      details JSONB NOT NULL,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL
    )`);
    this.addSql('CREATE UNIQUE INDEX compliance_actions_account_seq ON compliance_actions (account_id, account_seq)');
  }

  /**
   * Replaces the CHECK constraint on one column that an earlier migration declared inline: its
   * name differs between engines (accounts_kind_check on PostgreSQL, check_kind on CockroachDB),
   * so it is looked up in the catalog both provide (before this migration adds checks of its own).
   */
  private async replaceCheck(table: string, column: string, check: string): Promise<void> {
    const rows = (await this.execute(
      `SELECT c.conname AS name FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
       WHERE t.relname = ? AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE ?`,
      [table, `%${column}%`],
    )) as Array<{ name: string }>;
    for (const { name } of rows) this.addSql(`ALTER TABLE ${table} DROP CONSTRAINT ${name}`);
    this.addSql(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_${column}_check ${check}`);
  }
}
