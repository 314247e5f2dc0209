import { SharedMigration } from './support.js';

/**
 * The back-office console lists an account's holds, top-ups and purchase requests, newest first
 * (GET /v1/accounts/{id}/holds, /topups, /purchase-requests). Keyset pages on (created_at, id)
 * within one account: none of these columns is ever updated, so updates of the rows stay HOT.
 */
export class Migration20261220000100_console_lists extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql('CREATE INDEX holds_account_created ON holds (account_id, created_at, id)');
    this.addSql('CREATE INDEX topups_account_created ON topups (account_id, created_at, id)');
    this.addSql('CREATE INDEX purchase_requests_account_created ON purchase_requests (account_id, created_at, id)');
  }
}
