import { SharedMigration } from './support.js';

/**
 * Which pod of a region holds which slot (src/platform/pod-slot.ts). A slot names the pod's
 * system-balance shards; a lease that is not renewed frees it for the next pod that starts.
 * Homed in the region of its pods.
 */
export class Migration20261225000100_pod_slots extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    // The key names the region as text, as every table here keys by its own columns; crdb_region
    // (the same region) only places the row on CockroachDB.
    this.addSql(`CREATE TABLE pod_slots (
      region TEXT NOT NULL,
      slot INT4 NOT NULL,
      holder UUID NOT NULL,
      holder_name TEXT NOT NULL,
      expires_at TIMESTAMPTZ NOT NULL,
      crdb_region ${region} NOT NULL,
      PRIMARY KEY (region, slot)
    )`);
  }
}
