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
  const seeder = await db.tx_pool.connect();
  try {
    for (const seed of SEEDS) {
      await seeder.query('BEGIN');
      await seed(new SqlTx(seeder, { region: topology.primary_region, shard: 0 }), topology);
      await seeder.query('COMMIT');
    }
  } catch (error) {
    await seeder.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    seeder.release();
  }
}

export async function pendingMigrations(db: Database): Promise<string[]> {
  const migrator = db.orm.getMigrator() as Migrator;
  return (await migrator.getPendingMigrations()).map((migration) => migration.name);
}
