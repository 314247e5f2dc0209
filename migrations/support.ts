import { Migration } from '@mikro-orm/migrations';

/**
 * Base of every migration: one DDL statement per addSql (COCKROACH.md rule 9), and the type of
 * the `crdb_region` column chosen by the server we run on. On CockroachDB the database regions
 * are configured before migrations, so `crdb_internal_region` exists and the tables can later be
 * made REGIONAL BY ROW AS crdb_region; on PostgreSQL it is plain text.
 */
export abstract class SharedMigration extends Migration {
  protected async regionType(): Promise<string> {
    const rows = (await this.execute('SELECT version() AS version')) as Array<{ version: string }>;
    return rows[0]?.version.startsWith('CockroachDB') ? 'crdb_internal_region' : 'TEXT';
  }
}
