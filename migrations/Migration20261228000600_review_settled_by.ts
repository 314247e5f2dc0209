import { SharedMigration } from './support.js';

/**
 * Who settled a partner event held for review (PSP events, payout callbacks): a settlement is kept
 * once, with its author, and another note on it is refused (src/webhooks/review-settlement.ts).
 */
export class Migration20261228000600_review_settled_by extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE psp_events ADD COLUMN review_settled_by TEXT');
    this.addSql('ALTER TABLE payout_events ADD COLUMN review_settled_by TEXT');
  }
}
