import { SharedMigration } from './support.js';

/**
 * Operators' redeliveries still pending, by event: the retention purge keeps their events
 * (src/events/purge-events.ts). Few rows at any time, so the purge's check costs an index probe.
 */
export class Migration20261228000400_pending_redeliveries extends SharedMigration {
  override async up(): Promise<void> {
    this.addSql("CREATE INDEX webhook_deliveries_manual_pending ON webhook_deliveries (event_id) WHERE manual AND state = 'pending'");
  }
}
