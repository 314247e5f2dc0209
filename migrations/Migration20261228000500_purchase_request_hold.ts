import { SharedMigration } from './support.js';

/**
 * A purchase request by its wallet hold: the hold expiry worker leaves the hold of a request kept
 * for review (src/ledger/expire-holds.ts), joining each due hold to its request.
 */
export class Migration20261228000500_purchase_request_hold extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql('CREATE INDEX purchase_requests_hold ON purchase_requests (hold_id)');
  }
}
