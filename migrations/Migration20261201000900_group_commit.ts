import { SharedMigration } from './support.js';

export class Migration20261201000900_group_commit extends SharedMigration {
  override async up(): Promise<void> {
    // Answers are stored as the exact bytes first sent (a JSONB column reorders keys). Records
    // written before this migration keep their JSONB body until they expire.
    this.addSql('ALTER TABLE idempotency_keys ADD COLUMN response_text TEXT');
    this.addSql('ALTER TABLE idempotency_keys ALTER COLUMN response_body DROP NOT NULL');
    // A batch adds to its shard of a system account without reading it, so a system leg has no
    // balance after; a system account's balance is the sum of its shards.
    this.addSql('ALTER TABLE ledger_entries ALTER COLUMN balance_after_minor DROP NOT NULL');
  }
}
