// CockroachDB-only multi-region DDL, generated from the region topology (regions/regions.json)
// and the table locality map (table-localities.ts). Never run on PostgreSQL.
//
// Two phases, both re-run on every `npm run migrate` with DB_DIALECT=cockroach:
//   'database' BEFORE the migrations: primary region, other regions, survival goal. The
//              migrations create `crdb_region crdb_internal_region NOT NULL` columns, and that
//              enum type only exists once the database has a primary region.
//   'tables'   AFTER the migrations: one SET LOCALITY per mapped table that exists.
//
// Syntax (CockroachDB v26.2 docs, alter-database.md / alter-table.md):
//   ALTER DATABASE movr SET PRIMARY REGION "us-east1"        (must come before ADD REGION)
//   ALTER DATABASE database_name ADD REGION IF NOT EXISTS region_name
//   ALTER DATABASE {db} SURVIVE {ZONE|REGION} FAILURE         (REGION needs >= 3 regions)
//   ALTER TABLE foo SET LOCALITY REGIONAL BY ROW AS bar       (bar: crdb_internal_region NOT NULL)
//   ALTER TABLE {table} SET LOCALITY GLOBAL
// Re-running is harmless: SET PRIMARY REGION to the current primary rewrites the same config,
// ADD REGION IF NOT EXISTS skips known regions, and SET LOCALITY REGIONAL BY ROW AS <the same
// column> is a no-op. Regions removed from regions.json are NOT dropped (DROP REGION is a manual,
// destructive operation).

import type { Topology } from '../../platform/regions.js';
import { REGION_COLUMN, TABLE_LOCALITIES, type TableLocality } from './table-localities.js';

export type MultiRegionPhase = 'database' | 'tables';

/** The minimal client shape needed (a pg Client/Pool/PoolClient fits). */
export interface DdlClient {
  query(sql: string): Promise<unknown>;
}

/** Quote an SQL identifier (database, table, column or region name): "name", with " doubled. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty SQL identifier');
  if (name.includes('\u0000')) throw new Error('SQL identifier contains a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * ALTER DATABASE statements giving `databaseName` the topology's regions and survival goal:
 * primary region first, then every other region, then the survival goal.
 */
export function databaseRegionStatements(topology: Topology, databaseName: string): string[] {
  const names = topology.regions.map((region) => region.name);
  if (!names.includes(topology.primary_region)) {
    throw new Error(`primary region ${topology.primary_region} is not one of the regions (${names.join(', ')})`);
  }
  if (new Set(names).size !== names.length) throw new Error('duplicate region names in the topology');
  if (topology.survival_goal === 'region' && names.length < 3) {
    throw new Error('survival goal "region" needs at least 3 regions');
  }
  const db = quoteIdent(databaseName);
  return [
    `ALTER DATABASE ${db} SET PRIMARY REGION ${quoteIdent(topology.primary_region)}`,
    ...names
      .filter((name) => name !== topology.primary_region)
      .map((name) => `ALTER DATABASE ${db} ADD REGION IF NOT EXISTS ${quoteIdent(name)}`),
    `ALTER DATABASE ${db} SURVIVE ${topology.survival_goal === 'region' ? 'REGION' : 'ZONE'} FAILURE`,
  ];
}

/** The SET LOCALITY statement for one table. */
export function tableLocalityStatement(table: string, locality: TableLocality): string {
  switch (locality) {
    case 'regional_by_row':
      return `ALTER TABLE ${quoteIdent(table)} SET LOCALITY REGIONAL BY ROW AS ${quoteIdent(REGION_COLUMN)}`;
    case 'global':
      return `ALTER TABLE ${quoteIdent(table)} SET LOCALITY GLOBAL`;
  }
}

/**
 * One SET LOCALITY statement for every table of the locality map that is in `existingTables`
 * (in map order). Tables missing from the database are skipped, unmapped tables are ignored.
 */
export function tableLocalityStatements(
  existingTables: readonly string[],
  localities: Readonly<Record<string, TableLocality>> = TABLE_LOCALITIES,
): string[] {
  const existing = new Set(existingTables);
  return Object.entries(localities)
    .filter(([table]) => existing.has(table))
    .map(([table, locality]) => tableLocalityStatement(table, locality));
}

/**
 * The whole DDL as a printable SQL script (database statements, then table statements for every
 * mapped table), with a comment header. Statements are `;`-terminated so the script can be
 * pasted into `cockroach sql`.
 */
export function renderMultiRegionDdl(
  topology: Topology,
  databaseName: string,
  localities: Readonly<Record<string, TableLocality>> = TABLE_LOCALITIES,
): string {
  const lines = [
    '-- Generated from regions/regions.json and src/db/cockroach/table-localities.ts; do not edit.',
    '-- Applied only on CockroachDB (DB_DIALECT=cockroach) by `npm run migrate`: the database',
    '-- statements before the migrations, the table statements after them. Never run on PostgreSQL.',
    `-- primary region: ${topology.primary_region}; survival goal: ${topology.survival_goal}; ` +
      `regions: ${topology.regions.map((region) => region.name).join(', ')}`,
    '',
    '-- phase "database" (before migrations)',
    ...databaseRegionStatements(topology, databaseName).map((sql) => `${sql};`),
    '',
    '-- phase "tables" (after migrations; tables that do not exist yet are skipped)',
    ...tableLocalityStatements(Object.keys(localities), localities).map((sql) => `${sql};`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Names of the base tables in the `public` schema of the connected database. */
export async function listPublicTables(client: DdlClient): Promise<string[]> {
  const result = await client.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  const rows = (result as { rows?: unknown } | null | undefined)?.rows;
  if (!Array.isArray(rows)) throw new Error('listing tables: the client returned no rows array');
  return rows.map((row: unknown) => {
    const name = (row as { table_name?: unknown } | null)?.table_name;
    if (typeof name !== 'string') throw new Error('listing tables: row without a string table_name');
    return name;
  });
}

/**
 * Apply one phase of the multi-region DDL, one statement at a time (no explicit transaction:
 * CockroachDB runs each as its own schema-change job). Returns the statements executed.
 * Call only when the dialect is CockroachDB. The connection must be to `databaseName` for the
 * 'tables' phase (tables are listed in, and altered in, the current database).
 */
export async function applyMultiRegionDdl(
  client: DdlClient,
  topology: Topology,
  databaseName: string,
  phase: MultiRegionPhase,
  options: { existingTables?: readonly string[] } = {},
): Promise<string[]> {
  if (phase === 'database') {
    const [setPrimary, ...rest] = databaseRegionStatements(topology, databaseName);
    if (setPrimary === undefined) throw new Error('no database region statements generated');
    const executed: string[] = [];
    try {
      await client.query(setPrimary);
    } catch (error) {
      // On an already multi-region database, a NEW primary region must be added before it can
      // become primary ("region ... has not been added to the database"). Add it and retry; on
      // a fresh database the ADD fails too and the original error is the one worth reporting.
      const addPrimary = `ALTER DATABASE ${quoteIdent(databaseName)} ADD REGION IF NOT EXISTS ${quoteIdent(topology.primary_region)}`;
      try {
        await client.query(addPrimary);
      } catch {
        throw error;
      }
      executed.push(addPrimary);
      await client.query(setPrimary);
    }
    executed.push(setPrimary);
    for (const sql of rest) {
      await client.query(sql);
      executed.push(sql);
    }
    return executed;
  }

  const existing = options.existingTables ?? (await listPublicTables(client));
  const statements = tableLocalityStatements(existing);
  for (const sql of statements) await client.query(sql);
  return statements;
}
