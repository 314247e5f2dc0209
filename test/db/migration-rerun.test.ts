import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rerunnable } from '../../migrations/support.js';
import { uniqueId } from '../support/cluster.js';

// On CockroachDB a migration's statements commit one by one: a migration that failed halfway is
// run again from its first statement. Every statement that can be written to get past what is
// already there is (migrations/support.ts); here each form runs twice on the real server.

let db: pg.Client;
beforeAll(async () => {
  db = new pg.Client({ connectionString: inject('database_url') });
  await db.connect();
});
afterAll(() => db?.end());

describe('migration statements run again after a partial migration', () => {
  it('when each kind of statement runs twice, then the second run changes nothing and fails nothing', async () => {
    const table = uniqueId('rerun').replaceAll('-', '_');
    const statements = [
      `CREATE TABLE ${table} (id UUID PRIMARY KEY, note TEXT)`,
      `CREATE INDEX ${table}_note ON ${table} (note)`,
      `CREATE UNIQUE INDEX ${table}_note_unique ON ${table} (note) WHERE note <> ''`,
      `ALTER TABLE ${table} ADD COLUMN amount_minor INT8 NOT NULL DEFAULT 0`,
      `ALTER TABLE ${table} ADD CONSTRAINT ${table}_amount_check CHECK (amount_minor >= 0)`,
      `ALTER TABLE ${table} DROP CONSTRAINT ${table}_amount_check`,
      `DROP INDEX ${table}_note`,
    ].map(rerunnable);
    for (const statement of statements) await db.query(statement);
    // The constraint is added once (no IF NOT EXISTS exists for it on either engine).
    for (const statement of statements.filter((text) => !text.includes('ADD CONSTRAINT'))) await db.query(statement);
    const columns = await db.query<{ column_name: string }>(
      'SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
      [table],
    );
    expect(columns.rows.map((row) => row.column_name)).toEqual(['id', 'note', 'amount_minor']);
    await db.query(`DROP TABLE ${table}`);
  });

  it('rewrites only what it can, and what is already rerunnable stays as written', () => {
    expect(rerunnable('CREATE TABLE t (id UUID)')).toBe('CREATE TABLE IF NOT EXISTS t (id UUID)');
    expect(rerunnable('CREATE TABLE IF NOT EXISTS t (id UUID)')).toBe('CREATE TABLE IF NOT EXISTS t (id UUID)');
    expect(rerunnable('ALTER TABLE t ADD COLUMN a INT8, ADD COLUMN b INT8')).toBe(
      'ALTER TABLE t ADD COLUMN IF NOT EXISTS a INT8, ADD COLUMN IF NOT EXISTS b INT8',
    );
    expect(rerunnable('ALTER TABLE t DROP CONSTRAINT t_pkey, ADD CONSTRAINT t_pkey PRIMARY KEY (a, id)')).toBe(
      'ALTER TABLE t DROP CONSTRAINT IF EXISTS t_pkey, ADD CONSTRAINT t_pkey PRIMARY KEY (a, id)',
    );
    expect(rerunnable('UPDATE t SET a = 1')).toBe('UPDATE t SET a = 1');
  });
});
