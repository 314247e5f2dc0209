import type { Migrator } from '@mikro-orm/migrations';
import type { Topology } from '../platform/regions.js';
import type { Logger } from '../platform/logger.js';
import { applyMultiRegionDdl } from './cockroach/multi-region-ddl.js';
import type { Database } from './database.js';
import { SEEDS } from './seeds.js';
import { SqlTx } from './sql.js';

/**
 * Brings a database to the current schema: on CockroachDB the database regions first (the
 * migrations need the crdb_internal_region type), then the migrations, then every table's
 * locality, then the idempotent seeds. Safe to run from several processes: a second runner
 * finds the migrations applied.
 */
export async function migrateDatabase(db: Database, topology: Topology, logger: Logger): Promise<void> {
  const connection = db.orm.em.getConnection();
  const client = { query: (sql: string) => connection.execute(sql) };
  const database_name = db.orm.config.get('dbName') ?? 'defaultdb';
  if (db.dialect === 'cockroach') await applyMultiRegionDdl(client, topology, database_name, 'database');
  const migrator = db.orm.getMigrator() as Migrator;
  const applied = await migrator.up();
  if (applied.length > 0) logger.info({ migrations: applied.map((migration) => migration.name) }, 'migrations applied');
  if (db.dialect === 'cockroach') await applyMultiRegionDdl(client, topology, database_name, 'tables');
  const em = db.orm.em.fork();
  const context = { region: topology.primary_region, shard: 0 };
  for (const seed of SEEDS) {
    await em.transactional((txEm) => seed(new SqlTx(txEm, txEm.getTransactionContext() ?? txEm.getKnex(), context), topology));
  }
}

export async function pendingMigrations(db: Database): Promise<string[]> {
  const migrator = db.orm.getMigrator() as Migrator;
  return (await migrator.getPendingMigrations()).map((migration) => migration.name);
}
