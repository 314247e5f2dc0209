import type { SqlTx } from '../db/sql.js';
import type { Config } from '../platform/config.js';
import type { AppDeps } from '../platform/deps.js';
import { LEDGER_CHECKS } from './ledger-checks.js';
import { PURCHASE_CHECKS } from './purchase-checks.js';
import { SHOP_CHECKS } from './shop-checks.js';
import { WALLET_CHECKS } from './wallet-checks.js';

export interface Mismatch {
  check: string;
  account_id?: string;
  currency?: string;
  shard?: number;
  expected: number | string;
  actual: number | string;
  [detail: string]: unknown;
}

export type ReconciliationCheck = (tx: SqlTx, config: Config) => Promise<Mismatch[]>;

/** Every check, run over one consistent snapshot of the whole database. */
const CHECKS: ReconciliationCheck[] = [...LEDGER_CHECKS, ...SHOP_CHECKS, ...PURCHASE_CHECKS, ...WALLET_CHECKS];

export async function reconcile(deps: Pick<AppDeps, 'transactions' | 'config'>): Promise<{ ok: boolean; mismatches: Mismatch[] }> {
  const mismatches = await deps.transactions.run(
    'reconcile',
    async (tx) => {
      const found: Mismatch[] = [];
      for (const check of CHECKS) found.push(...(await check(tx, deps.config)));
      return found;
    },
    { read_only_snapshot: true },
  );
  return { ok: mismatches.length === 0, mismatches };
}
