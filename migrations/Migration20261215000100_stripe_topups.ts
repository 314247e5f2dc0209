import { SharedMigration } from './support.js';

/**
 * Top-ups paid through Stripe (PSP_PROVIDER=stripe, src/shop/topups/stripe): which PSP a top-up
 * was opened with, its PaymentIntent (what the client confirms with the client secret), and what
 * each PSP event meant in money, for formats whose payload does not say it plainly.
 */
export class Migration20261215000100_stripe_topups extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE topups ADD COLUMN psp_provider TEXT NOT NULL DEFAULT 'generic' CHECK (psp_provider IN ('generic', 'stripe'))");
    this.addSql('ALTER TABLE topups ADD COLUMN stripe_payment_intent_id TEXT');
    this.addSql('ALTER TABLE topups ADD COLUMN stripe_client_secret TEXT');
    // Disputes name the PaymentIntent, not the top-up: their events find it through this.
    this.addSql(
      'CREATE INDEX topups_stripe_payment_intent ON topups (stripe_payment_intent_id) WHERE stripe_payment_intent_id IS NOT NULL',
    );
    // The amount and currency the state machine was given for the event (a Stripe refund: the part
    // refunded since the last one); NULL when the event never reached it.
    this.addSql('ALTER TABLE psp_events ADD COLUMN amount_minor INT8');
    this.addSql('ALTER TABLE psp_events ADD COLUMN currency TEXT');
  }
}
