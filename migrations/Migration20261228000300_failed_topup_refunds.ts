import { SharedMigration } from './support.js';

/**
 * FAILED top-ups with a refund waiting for a success that may never come: what the stuck top-ups
 * worker flags besides PENDING ones (src/shop/topups/flag-stuck-topups.ts). Only those rows are in
 * it, so its scan never walks the failed top-ups that wait for nothing.
 */
export class Migration20261228000300_failed_topup_refunds extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql(
      `CREATE INDEX topups_failed_refund_waiting ON topups (created_at)
         WHERE status = 'FAILED' AND reconciliation_required_at IS NULL AND reversals @> '[{"status": "waiting"}]'::JSONB`,
    );
  }
}
