import type pg from 'pg';

/**
 * Schema variants the write path was designed without, to measure whether leaving them out still
 * pays (issue 9: keep a workaround only with a measurement). Applied to the fresh database after
 * the migrations, before any row exists: `npm run bench -- --schema-variant foreign-keys`.
 */
export const SCHEMA_VARIANTS = {
  /** The links reconciliation checks instead, as foreign keys. */
  'foreign-keys': [
    'ALTER TABLE ledger_transactions ADD CONSTRAINT bench_fk_transaction_account FOREIGN KEY (account_id) REFERENCES accounts (id)',
    'ALTER TABLE ledger_entries ADD CONSTRAINT bench_fk_entry_transaction FOREIGN KEY (transaction_id) REFERENCES ledger_transactions (id)',
    'ALTER TABLE ledger_entries ADD CONSTRAINT bench_fk_entry_account FOREIGN KEY (account_id) REFERENCES accounts (id)',
    'ALTER TABLE holds ADD CONSTRAINT bench_fk_hold_account FOREIGN KEY (account_id) REFERENCES accounts (id)',
    'ALTER TABLE orders ADD CONSTRAINT bench_fk_order_account FOREIGN KEY (account_id) REFERENCES accounts (id)',
    'ALTER TABLE order_lines ADD CONSTRAINT bench_fk_line_order FOREIGN KEY (order_id) REFERENCES orders (id)',
    'ALTER TABLE entitlements ADD CONSTRAINT bench_fk_entitlement_account FOREIGN KEY (account_id) REFERENCES accounts (id)',
  ],
  /** PostgreSQL's default fill factor for the rows every debit updates (the migrations leave half of each page free). */
  'default-fillfactor': ['ALTER TABLE accounts SET (fillfactor = 100)', 'ALTER TABLE wallets SET (fillfactor = 100)'],
} as const;

export type SchemaVariant = keyof typeof SCHEMA_VARIANTS;

export function isSchemaVariant(name: string): name is SchemaVariant {
  return Object.hasOwn(SCHEMA_VARIANTS, name);
}

export async function applySchemaVariants(pool: pg.Pool, variants: readonly SchemaVariant[]): Promise<void> {
  for (const variant of variants) for (const statement of SCHEMA_VARIANTS[variant]) await pool.query(statement);
}
