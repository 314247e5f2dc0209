import { SharedMigration } from './support.js';

/**
 * What a person decided for a purchase request kept for review (PUT /v1/purchase-requests/{id}/review):
 * their note. A seller order the request did not capture (a confirmation above the agreed price, say)
 * is then settled outside the ledger, and reconciliation stops reporting it.
 */
export class Migration20261228000200_purchase_review_settlement extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE purchase_requests ADD COLUMN review_settlement TEXT');
  }
}
