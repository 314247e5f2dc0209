import { Migration, type Query } from '@mikro-orm/migrations';

// On CockroachDB a migration is not one transaction (each DDL statement commits on its own): one
// that fails halfway leaves its first statements applied, and the rerun must get past them.
// Every statement that can say so says it: a table, index or column made again, or a constraint or
// index dropped again, changes nothing. (ADD CONSTRAINT has no such form on either engine.)
const RERUNNABLE: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(\s*)CREATE TABLE (?!IF NOT EXISTS )/i, '$1CREATE TABLE IF NOT EXISTS '],
  [/^(\s*)CREATE (UNIQUE )?INDEX (?!IF NOT EXISTS )/i, '$1CREATE $2INDEX IF NOT EXISTS '],
  [/^(\s*)DROP INDEX (?!IF EXISTS )/i, '$1DROP INDEX IF EXISTS '],
  [/\bADD COLUMN (?!IF NOT EXISTS )/gi, 'ADD COLUMN IF NOT EXISTS '],
  [/\bDROP CONSTRAINT (?!IF EXISTS )/gi, 'DROP CONSTRAINT IF EXISTS '],
];

/** `sql` as a statement that a rerun after a partial migration gets past. */
export function rerunnable(sql: string): string {
  return RERUNNABLE.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), sql);
}

/**
 * Only `wallets` has a foreign key (to `accounts`, checked when a wallet opens). Rows that
 * reference accounts, ledger transactions, orders, holds or purchase requests are written by the
 * same code path as what they reference, in the same transaction, and reconciliation verifies
 * the links. On PostgreSQL a foreign key check is a read of the parent under SERIALIZABLE: it
 * predicate-locks the parent's index page (or, with the parent's row updated in the same
 * transaction, its heap page), and the concurrent writes to those pages then abort unrelated
 * requests as serialization failures.
 *
 * Base of every migration: one DDL statement per addSql (COCKROACH.md rule 9), and the type of
 * the `crdb_region` column chosen by the server we run on. On CockroachDB the database regions
 * are configured before migrations, so `crdb_internal_region` exists and the tables can later be
 * made REGIONAL BY ROW AS crdb_region; on PostgreSQL it is plain text.
 */
export abstract class SharedMigration extends Migration {
  override addSql(sql: Query): void {
    super.addSql(typeof sql === 'string' ? rerunnable(sql) : sql);
  }

  private async isCockroach(): Promise<boolean> {
    const rows = (await this.execute('SELECT version() AS version')) as Array<{ version: string }>;
    return rows[0]?.version.startsWith('CockroachDB') ?? false;
  }

  protected async regionType(): Promise<string> {
    return (await this.isCockroach()) ? 'crdb_internal_region' : 'TEXT';
  }

  /**
   * PostgreSQL only: leave room in every heap page of a row updated on each request, so the
   * update stays HOT (no new index entry). A non-HOT update inserts into the primary key index,
   * and under SERIALIZABLE that insert conflicts with every transaction that looked up another
   * row on the same index page. CockroachDB has no heap pages: nothing to do there.
   */
  protected async keepUpdatesInPlace(table: string): Promise<void> {
    if (!(await this.isCockroach())) this.addSql(`ALTER TABLE ${table} SET (fillfactor = 50)`);
  }
}
