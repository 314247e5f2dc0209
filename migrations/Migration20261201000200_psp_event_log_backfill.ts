import { SharedMigration } from './support.js';

/** Data written before the PSP event log: apart from the DDL that made room for it (COCKROACH.md rule 9). */
export class Migration20261201000200_psp_event_log_backfill extends SharedMigration {
  override async up(): Promise<void> {
    // Top-ups reversed before reversals accumulated: what their reversal transactions moved.
    this.addSql(`UPDATE topups SET reversed_minor = (
      SELECT COALESCE(SUM(t.amount_minor), 0) FROM ledger_transactions t WHERE t.topup_id = topups.id AND t.type = 'topup_reversal')
      WHERE status = 'REVERSED'`);
    // Events held before the log kept reasons: the top-up's own review_reason said why.
    this.addSql(`UPDATE psp_events SET review_reason = 'held before the event log kept reasons (see the top-up''s review_reason column)'
      WHERE outcome IN ('amount_mismatch', 'held_for_review', 'unknown_topup')`);
  }
}
