import { MIGRATIONS } from '../../migrations/index.js';
import { sqlState } from './database-errors.js';
import type { SqlTx } from './sql.js';

/** Where MikroORM's migrator records the migrations it applied, one row per name. */
export const MIGRATIONS_TABLE = 'schema_migrations';
/** undefined_table: a database no migration has run on yet. */
const UNDEFINED_TABLE = '42P01';

/**
 * The migrations of this build (migrations/index.ts) that the database has not applied, in one
 * query and without the ORM: pods read it at run time (readiness), only migrations open MikroORM.
 */
export async function pendingMigrations(tx: SqlTx): Promise<string[]> {
  const names = MIGRATIONS.map((migration) => migration.name);
  try {
    const rows = await tx.rows<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} WHERE name = ANY(?::text[])`, [names]);
    const applied = new Set(rows.map((row) => row.name));
    return names.filter((name) => !applied.has(name));
  } catch (error) {
    if (sqlState(error) === UNDEFINED_TABLE) return names;
    throw error;
  }
}
