import type { Seed } from '../db/seeds.js';
import { SYSTEM_ACCOUNTS } from './postings.js';

/** The named system accounts exist everywhere; they are homed in the primary region. */
export const seedSystemAccounts: Seed = async (tx, topology) => {
  for (const id of SYSTEM_ACCOUNTS) {
    await tx.execute("INSERT INTO accounts (id, kind, crdb_region) VALUES (?, 'system', ?) ON CONFLICT (id) DO NOTHING", [
      id,
      topology.primary_region,
    ]);
  }
};
