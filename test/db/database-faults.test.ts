import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createPool, sessionSettings, withClient } from '../../src/db/connections.js';
import { DatabaseUnavailable, isDatabaseUnavailable, unavailableKind } from '../../src/db/database-errors.js';
import { checkReadiness } from '../../src/db/readiness.js';
import type { Database } from '../../src/db/database.js';
import { PreparedStatements, SqlTx } from '../../src/db/sql.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadTopology } from '../../src/platform/regions.js';
import { toolDeps } from '../../src/pod.js';
import { freePort } from '../support/ports.js';
import { testConfig } from '../support/cluster.js';

// The data layer against real failures of a real PostgreSQL (the shared test server; only this
// file's own sessions are terminated): a broken connection never takes the process down, and
// whatever the way the database fails, the use case sees DomainError `unavailable` (503).

const logger = createLogger({ level: 'silent' });
const pools: pg.Pool[] = [];
const held: pg.PoolClient[] = [];

function pool(overrides: Partial<pg.PoolConfig> = {}, url = inject('database_url')): pg.Pool {
  const created = createPool({ ...sessionSettings(testConfig(), url, 'creditshop:test-faults'), max: 2, ...overrides }, 'test', logger);
  pools.push(created);
  return created;
}

function sql(queryable: Pick<pg.PoolClient, 'query'>): SqlTx {
  return new SqlTx(queryable, new PreparedStatements());
}

/** A pod's data layer (TransactionRunner) over `tx_pool`. */
function runnerOver(tx_pool: pg.Pool) {
  const db: Database = { tx_pool, statements: new PreparedStatements(), dialect: 'postgres', close: async () => {} };
  const config = testConfig({ TX_ATTEMPTS_MAX: '2', TX_BACKOFF_BASE_MS: '1', TX_BACKOFF_MAX_MS: '2' });
  return toolDeps({ config, topology: loadTopology(), region: 'eu-west', database_url: '', logger }, db).transactions;
}

async function terminate(pid: number): Promise<void> {
  await withClient({ connectionString: inject('database_url') }, (admin) => admin.query('SELECT pg_terminate_backend($1)', [pid]));
}

/** Until the server has closed the client's socket (the client has heard the news). */
async function brokenWithin(client: pg.PoolClient, within_ms: number): Promise<void> {
  const deadline = Date.now() + within_ms;
  while ((client as unknown as { _queryable: boolean })._queryable && Date.now() < deadline) await sleep(20);
}

afterEach(async () => {
  for (const client of held.splice(0)) client.release();
  await Promise.all(pools.splice(0).map((created) => created.end().catch(() => undefined)));
});

describe('a connection the database drops while it is checked out', () => {
  it('when the server ends an idle checked-out session (57P01): no crash, next statement unavailable, client discarded', async () => {
    const traffic = pool();
    const client = await traffic.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await terminate(rows[0]!.pid);
    await brokenWithin(client, 2000);
    // Without an error listener on the checked-out client, the 'error' event above would have ended this process.
    await expect(sql(client).rows('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailable);
    client.release();
    expect(traffic.totalCount).toBe(0);
    expect((await sql(traffic).one<{ ok: number }>('SELECT 1 AS ok')).ok).toBe(1);
  });

  it('when the idle-in-transaction timeout ends a session between statements (25P03): no crash, next statement unavailable', async () => {
    const traffic = pool({ idle_in_transaction_session_timeout: 200 });
    const client = await traffic.connect();
    await client.query('BEGIN');
    await brokenWithin(client, 3000);
    await expect(sql(client).rows('SELECT 1')).rejects.toMatchObject({ code: 'unavailable' });
    client.release();
    expect(traffic.totalCount).toBe(0);
  });
});

describe('every way the database fails is DomainError unavailable, through reads and transactions alike', () => {
  const failures: Array<{ name: string; traffic: () => Promise<pg.Pool>; statement: string }> = [
    {
      name: 'nothing listens (ECONNREFUSED)',
      traffic: async () => pool({}, `postgres://127.0.0.1:${await freePort()}/none`),
      statement: 'SELECT 1',
    },
    { name: 'statement_timeout (57014)', traffic: async () => pool({ statement_timeout: 100 }), statement: 'SELECT pg_sleep(2)' },
    {
      name: 'the server does not answer within the query timeout (a stall)',
      traffic: async () => pool({ statement_timeout: 5000, query_timeout: 100 }),
      statement: 'SELECT pg_sleep(1)',
    },
    {
      // A standby, or an operator's default_transaction_read_only: every write was a 500.
      name: 'the server takes no writes (25006)',
      traffic: async () => pool({ options: '-c TimeZone=UTC -c default_transaction_read_only=on' }),
      statement: 'CREATE TABLE read_only_probe (x INT)',
    },
    {
      // A server-side lock_timeout: reads and writes behind a long lock were 500s.
      name: 'a lock is not granted within the server lock_timeout (55P03)',
      traffic: async () => {
        const holder = await pool().connect();
        held.push(holder);
        await holder.query('CREATE TABLE IF NOT EXISTS lock_timeout_probe (x INT)');
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE lock_timeout_probe IN ACCESS EXCLUSIVE MODE');
        return pool({ options: '-c TimeZone=UTC -c lock_timeout=100' });
      },
      statement: 'SELECT * FROM lock_timeout_probe',
    },
    {
      name: 'no pool connection in time',
      traffic: async () => {
        const exhausted = pool({ max: 1, connectionTimeoutMillis: 1000 });
        held.push(await exhausted.connect());
        return exhausted;
      },
      statement: 'SELECT 1',
    },
  ];

  for (const failure of failures) {
    it(`when ${failure.name}`, async () => {
      const runner = runnerOver(await failure.traffic());
      const read = runner.read((tx) => tx.rows(failure.statement));
      await expect(read).rejects.toBeInstanceOf(DatabaseUnavailable);
      const run = runner.run('probe', (tx) => tx.rows(failure.statement));
      await expect(run).rejects.toMatchObject({ code: 'unavailable' });
    });
  }

  it('a bug is not unavailability: a syntax error or a constraint violation keeps its SQLSTATE (and becomes a 500)', async () => {
    const runner = runnerOver(pool());
    await expect(runner.read((tx) => tx.rows('SELEC 1'))).rejects.toMatchObject({ code: '42601' });
    await expect(runner.run('probe', (tx) => tx.rows('SELECT 1 / 0'))).rejects.toMatchObject({ code: '22012' });
  });

  it('node errors carried inside others count: a refused IPv4 and IPv6 connect (AggregateError), a wrapped cause; knex timeouts', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isDatabaseUnavailable(new AggregateError([refused], 'all attempts failed'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('migration failed', { cause: { code: '57P03' } }))).toBe(true);
    // knex's own (migrations, through MikroORM) when the server accepts connections and stalls: start-up died on it.
    const knex_timeout = Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), {
      name: 'KnexTimeoutError',
    });
    expect(isDatabaseUnavailable(knex_timeout)).toBe(true);
    // The answer says which: a database that answers too slowly or takes no writes is not unreachable.
    expect(new DatabaseUnavailable({ code: '57014' }).detail).toMatch(/^the database did not finish in time/);
    expect(new DatabaseUnavailable({ code: '25006' }).detail).toMatch(/^the database takes no writes now/);
    expect(new DatabaseUnavailable(refused).detail).toMatch(/^the database is unreachable/);
    // However deep the timeout is wrapped: a timeout pauses no pod's writes (an unreachable database does).
    expect(unavailableKind(new DatabaseUnavailable(new Error('batch', { cause: { code: '57014' } })))).toBe('timeout');
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('could not serialize'), { code: '40001' }))).toBe(false);
  });
});

describe('readiness', () => {
  it('a database that takes no writes is not ready: every write would fail', async () => {
    const read_only = runnerOver(pool({ options: '-c TimeZone=UTC -c default_transaction_read_only=on' }));
    expect(await checkReadiness(read_only, 2000)).toEqual({ status: 'database_read_only' });
    expect(await checkReadiness(runnerOver(pool()), 2000)).toEqual({ status: 'ready' });
  });
});
