import Joi from 'joi';
import type { SqlTx } from '../db/sql.js';
import type { Config } from '../platform/config.js';
import type { AppDeps } from '../platform/deps.js';
import { viewPart, viewSchema } from '../platform/view-schema.js';
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

const valueSchema = Joi.alternatives(Joi.number(), Joi.string());

export const reconciliationReportSchema = viewSchema('ReconciliationReport', {
  ok: Joi.boolean().description('true when nothing is found'),
  mismatches: Joi.array().items(
    viewPart({
      check: Joi.string().description('Which check found it'),
      account_id: Joi.string().optional(),
      currency: Joi.string().optional(),
      shard: Joi.number().integer().optional(),
      expected: valueSchema,
      actual: valueSchema,
    })
      .unknown(true)
      .description('A mismatch, or an item held for review; other fields depend on the check')
      .id('Mismatch'),
  ),
});

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
