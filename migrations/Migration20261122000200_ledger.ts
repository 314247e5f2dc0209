import { SharedMigration } from './support.js';

export class Migration20261122000200_ledger extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    // Orders history by commit: every posting to a player account takes the next numbers of
    // this counter in the same serializable transaction (see ledger-repository.ts).
    this.addSql('ALTER TABLE accounts ADD COLUMN entry_seq INT8 NOT NULL DEFAULT 0');
    await this.keepUpdatesInPlace('accounts');
    await this.keepUpdatesInPlace('wallets');
    this.addSql(`CREATE TABLE ledger_transactions (
      id UUID PRIMARY KEY,
      type TEXT NOT NULL,
      account_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      amount_minor INT8 NOT NULL CHECK (amount_minor > 0),
      reason TEXT,
      reference TEXT,
      original_transaction_id UUID,
      hold_id UUID,
      note TEXT,
      order_id UUID,
      refund_id UUID,
      topup_id UUID,
      purchase_request_id UUID,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql(
      `CREATE INDEX ledger_transactions_original ON ledger_transactions (original_transaction_id)
       WHERE original_transaction_id IS NOT NULL`,
    );
    this.addSql(`CREATE TABLE ledger_entries (
      id UUID PRIMARY KEY,
      transaction_id UUID NOT NULL,
      account_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      amount_minor INT8 NOT NULL CHECK (amount_minor <> 0),
      balance_after_minor INT8 NOT NULL,
      account_seq INT8,
      shard INT4,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      CHECK ((account_seq IS NULL) <> (shard IS NULL))
    )`);
    this.addSql('CREATE UNIQUE INDEX ledger_entries_account_seq ON ledger_entries (account_id, account_seq) WHERE account_seq IS NOT NULL');
    this.addSql('CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id)');
    this.addSql('CREATE INDEX ledger_entries_shard ON ledger_entries (account_id, currency, shard) WHERE shard IS NOT NULL');
    // System accounts (@revenue, @psp, ...) would be one hot row each; their balance is split
    // into shards, one per (pod, concurrent transaction slot), summed on read.
    this.addSql(`CREATE TABLE system_balance_shards (
      account_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      shard INT4 NOT NULL,
      balance_minor INT8 NOT NULL,
      crdb_region ${region} NOT NULL,
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, currency, shard)
    )`);
    await this.keepUpdatesInPlace('system_balance_shards');
    this.addSql(`CREATE TABLE holds (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      amount_minor INT8 NOT NULL CHECK (amount_minor > 0),
      captured_minor INT8 NOT NULL DEFAULT 0 CHECK (captured_minor >= 0 AND captured_minor <= amount_minor),
      status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'CAPTURED', 'VOIDED', 'EXPIRED')),
      owner TEXT NOT NULL CHECK (owner IN ('api', 'order', 'purchase_request')),
      destination_account_id TEXT NOT NULL,
      reference TEXT,
      capture_transaction_id UUID,
      expires_at TIMESTAMPTZ NOT NULL,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await this.keepUpdatesInPlace('holds');
    this.addSql("CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'ACTIVE'");
    this.addSql('CREATE INDEX holds_account ON holds (account_id, currency, status)');
    // The cross-pod queue for contended accounts: rows are locked by queued transactions and
    // probed (FOR SHARE NOWAIT) by unqueued ones; see TransactionRunner.
    this.addSql(`CREATE TABLE contention_locks (
      account_id TEXT PRIMARY KEY,
      crdb_region ${region} NOT NULL
    )`);
  }
}
