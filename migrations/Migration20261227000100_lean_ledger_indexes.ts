import { SharedMigration } from './support.js';

/**
 * Two index writes fewer per ledger transaction of a player (three per debit), measured in
 * BENCHMARKS.md ("What each change of the write path was measured to bring").
 *
 * - An entry is only ever looked up by its transaction, so the transaction leads its primary key
 *   and the separate index on transaction_id goes: every entry wrote both.
 * - The inverted index on metadata holds only transactions that carry metadata. Every transaction
 *   without it (most of them) wrote an entry for its empty object; a metadata filter states
 *   `metadata <> '{}'` (a containment of a key and value implies it), which lets it use this index.
 */
export class Migration20261227000100_lean_ledger_indexes extends SharedMigration {
  override async up(): Promise<void> {
    // One statement on both engines: CockroachDB keeps the old primary key as a unique index
    // unless it is dropped in the same ALTER TABLE.
    this.addSql(
      'ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_pkey, ADD CONSTRAINT ledger_entries_pkey PRIMARY KEY (transaction_id, id)',
    );
    this.addSql('DROP INDEX ledger_entries_transaction');
    this.addSql('DROP INDEX ledger_transactions_metadata');
    this.addSql("CREATE INDEX ledger_transactions_metadata ON ledger_transactions USING GIN (metadata) WHERE metadata <> '{}'::JSONB");
  }
}
