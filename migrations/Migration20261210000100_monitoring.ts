import { SharedMigration } from './support.js';

/**
 * Monitoring (deploy/): periodic tasks that one pod of the fleet runs at a time, and the partial
 * indexes that keep the gauges of what waits for a person cheap to count.
 */
export class Migration20261210000100_monitoring extends SharedMigration {
  override async up(): Promise<void> {
    // One row per fleet task (src/platform/fleet-task.ts): the lease of the pod running it, when it
    // is due next, and the last result it recorded (reconciliation: mismatches by check), which
    // every pod exports. Not homed in a region on CockroachDB (REGIONAL BY TABLE in the primary
    // region): a few rows, claimed a few times a minute by the whole fleet.
    this.addSql(`CREATE TABLE fleet_tasks (
      name TEXT PRIMARY KEY,
      lease_token TEXT,
      lease_owner TEXT,
      lease_expires_at TIMESTAMPTZ,
      next_run_at TIMESTAMPTZ NOT NULL,
      last_started_at TIMESTAMPTZ,
      last_finished_at TIMESTAMPTZ,
      last_result JSONB,
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await this.keepUpdatesInPlace('fleet_tasks');
    // Counted by every pod every FLEET_GAUGES_INTERVAL_MS: purchase requests kept for review, and
    // top-ups the PSP never confirmed (flagged by the stuck top-up worker).
    this.addSql('CREATE INDEX purchase_requests_in_review ON purchase_requests (created_at) WHERE review_reason IS NOT NULL');
    this.addSql(
      `CREATE INDEX topups_needing_reconciliation ON topups (created_at)
       WHERE status = 'PENDING' AND reconciliation_required_at IS NOT NULL`,
    );
  }
}
