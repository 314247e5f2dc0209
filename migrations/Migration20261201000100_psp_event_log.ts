import { SharedMigration } from './support.js';

/**
 * Top-ups for a PSP that delivers out of order, in parts and repeatedly (src/shop/topups/
 * topup-state-machine.ts): reversals accumulate and may wait for the credit, and the PSP event
 * log records every signed delivery, including what is held for review.
 */
export class Migration20261201000100_psp_event_log extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE topups ADD COLUMN reversed_minor INT8 NOT NULL DEFAULT 0');
    // Every reversal recorded against the top-up, waiting for the credit or applied, in arrival order.
    this.addSql("ALTER TABLE topups ADD COLUMN reversals JSONB NOT NULL DEFAULT '[]'::jsonb");
    this.addSql(
      'ALTER TABLE topups ADD CONSTRAINT topups_reversed_within_amount CHECK (reversed_minor >= 0 AND reversed_minor <= amount_minor)',
    );
    // Why an event was not applied automatically; NULL for the ones that need nobody.
    this.addSql('ALTER TABLE psp_events ADD COLUMN review_reason TEXT');
    // The raw body of a delivery that is not an event we understand: base64 stores any bytes.
    this.addSql('ALTER TABLE psp_events ADD COLUMN body_base64 TEXT');
    // A body that reused an event id already recorded with another body is recorded under the
    // hash of its bytes; this is the id it reused.
    this.addSql('ALTER TABLE psp_events ADD COLUMN conflicts_with TEXT');
    // When and how an operator settled an event held for review (PUT /v1/psp/events/{id}/review).
    this.addSql('ALTER TABLE psp_events ADD COLUMN review_settled_at TIMESTAMPTZ');
    this.addSql('ALTER TABLE psp_events ADD COLUMN review_settlement TEXT');
    // What reconciliation lists: events held for review that nobody has settled yet.
    this.addSql('CREATE INDEX psp_events_held ON psp_events (received_at) WHERE review_reason IS NOT NULL AND review_settled_at IS NULL');
  }
}
