import type { Topology } from '../platform/regions.js';
import type { SqlTx } from './sql.js';
import { seedSystemAccounts } from '../ledger/system-accounts-seed.js';
import { seedDemoCatalog } from '../shop/catalog/demo-catalog-seed.js';

/** Idempotent data every environment needs (system accounts, demo catalog), run after migrations. */
export type Seed = (tx: SqlTx, topology: Topology) => Promise<void>;

export const SEEDS: Seed[] = [seedSystemAccounts, seedDemoCatalog];
