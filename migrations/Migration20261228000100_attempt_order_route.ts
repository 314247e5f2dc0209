import { SharedMigration } from './support.js';

/**
 * How an attempt orders at its seller ('hold': a hold first, then the order names it; 'quote': the
 * order names the quote), fixed when the attempt starts. A run that resumes an attempt (after a
 * crash or an unknown outcome) re-sends the very order the first run sent; an operator may change
 * the seller's `supports_holds` meanwhile. Null on attempts started before: the seller's setting is
 * all that is known of them.
 */
export class Migration20261228000100_attempt_order_route extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE purchase_attempts ADD COLUMN order_route TEXT');
  }
}
