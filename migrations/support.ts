import { Migration } from '@mikro-orm/migrations';

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
