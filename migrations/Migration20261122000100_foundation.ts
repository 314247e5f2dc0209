import { SharedMigration } from './support.js';

export class Migration20261122000100_foundation extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    this.addSql(`CREATE TABLE accounts (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('player', 'system')),
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql(`CREATE TABLE wallets (
      account_id TEXT NOT NULL REFERENCES accounts (id),
      currency TEXT NOT NULL,
      balance_minor INT8 NOT NULL DEFAULT 0,
      held_minor INT8 NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, currency),
      CONSTRAINT wallets_no_overdraft CHECK (balance_minor - held_minor >= 0)
    )`);
    this.addSql(`CREATE TABLE idempotency_keys (
      caller TEXT NOT NULL,
      key TEXT NOT NULL,
      request_fingerprint TEXT NOT NULL,
      status_code INT4 NOT NULL,
      response_body JSONB NOT NULL,
      crdb_region ${region} NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      expires_at TIMESTAMPTZ NOT NULL,
      PRIMARY KEY (caller, key)
    )`);
    this.addSql('CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at)');
  }
}
