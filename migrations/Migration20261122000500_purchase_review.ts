import { SharedMigration } from './support.js';

export class Migration20261122000500_purchase_review extends SharedMigration {
  override async up(): Promise<void> {
    // Why a pending purchase request waits for a person or a seller's late answer (a seller
    // confirmed above the price we accept, or an order's outcome is still unknown after the
    // deadline); NULL when nothing is wrong. The wallet hold stays ACTIVE meanwhile.
    this.addSql('ALTER TABLE purchase_requests ADD COLUMN review_reason TEXT');
    this.addSql(
      "ALTER TABLE purchase_requests ADD CONSTRAINT purchase_requests_review_pending CHECK (review_reason IS NULL OR status = 'pending')",
    );
  }
}
