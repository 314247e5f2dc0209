import { SharedMigration } from './support.js';

/**
 * Which pod of a region holds which slot (src/platform/pod-slot.ts). A slot names the pod's
 * system-balance shards; a lease that is not renewed frees it for the next pod that starts.
 * Homed in the region of its pods.
 */
export class Migration20261225000100_pod_slots extends SharedMigration {
  override async up(): Promise<void> {
    const region = await this.regionType();
    this.addSql(`CREATE TABLE pod_slots (
      crdb_region ${region} NOT NULL,
      slot INT4 NOT NULL,
      holder UUID NOT NULL,
      holder_name TEXT NOT NULL,
      expires_at TIMESTAMPTZ NOT NULL,
      PRIMARY KEY (crdb_region, slot)
    )`);
  }
}
