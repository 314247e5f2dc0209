import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import Koa from 'koa';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.js';
import { RetriesExhausted } from '../../src/db/transaction-runner.js';
import { emitEventsIn } from '../../src/events/emit-in-transaction.js';
import { problemResponses, requestContext } from '../../src/http/middleware.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadTopology } from '../../src/platform/regions.js';
import { toolDeps } from '../../src/pod.js';
import type { AppDeps } from '../../src/platform/deps.js';
import { testConfig, uniqueId } from '../support/cluster.js';
import { metricSum } from '../support/metrics.js';

let db: Database;
let outsider: pg.Client;

function depsWith(attempts_max: number): AppDeps {
  const config = testConfig({ TX_ATTEMPTS_MAX: String(attempts_max), TX_BACKOFF_BASE_MS: '1', TX_BACKOFF_MAX_MS: '5' });
  return toolDeps(
    {
      config,
      topology: loadTopology(),
      region: 'eu-west',
      database_url: inject('database_url'),
      logger: createLogger({ level: 'silent' }),
    },
    db,
  );
}

async function counterValue(id: string): Promise<number> {
  const result = await outsider.query<{ n: string }>('SELECT n FROM runner_probe WHERE id = $1', [id]);
  return Number(result.rows[0]?.n);
}

beforeAll(async () => {
  const config = testConfig();
  const logger = createLogger({ level: 'silent' });
  db = await openDatabase(config, { url: inject('database_url'), application_name: 'runner-test', pool_max: 8, logger });
  outsider = new pg.Client({ connectionString: inject('database_url') });
  await outsider.connect();
  await outsider.query('CREATE TABLE IF NOT EXISTS runner_probe (id TEXT PRIMARY KEY, n INT8 NOT NULL)');
});
afterAll(async () => {
  await outsider.end();
  await db.close();
});

describe('the transaction runner on real PostgreSQL SERIALIZABLE', () => {
  it('when two transactions read then write one row at once, one gets a real 40001, is retried whole, both increments land', async () => {
    const deps = depsWith(10);
    const id = uniqueId('probe');
    await outsider.query('INSERT INTO runner_probe (id, n) VALUES ($1, 0)', [id]);
    let arrived = 0;
    let release!: () => void;
    const both_read = new Promise<void>((resolve) => (release = resolve));
    const increment = (name: string) =>
      deps.transactions.run(name, async (tx) => {
        const row = await tx.one<{ n: string }>('SELECT n FROM runner_probe WHERE id = ?', [id]);
        arrived += 1;
        if (arrived === 2) release();
        if (arrived <= 2) await both_read; // first attempts overlap for sure; retries do not wait
        await tx.execute('UPDATE runner_probe SET n = ? WHERE id = ?', [Number(row.n) + 1, id]);
      });
    await Promise.all([increment('probe_increment'), increment('probe_increment')]);
    expect(await counterValue(id)).toBe(2);
    expect(await metricSum(deps, 'db_transaction_retries_total', { name: 'probe_increment', sqlstate: '40001' })).toBeGreaterThanOrEqual(1);
    expect(await metricSum(deps, 'db_transaction_attempts_total', { name: 'probe_increment' })).toBeGreaterThanOrEqual(3);
  });

  it('when every attempt is beaten by a concurrent commit, then the runner gives up after the set attempts with unavailable', async () => {
    const deps = depsWith(3);
    const id = uniqueId('probe');
    await outsider.query('INSERT INTO runner_probe (id, n) VALUES ($1, 0)', [id]);
    let attempts = 0;
    const doomed = deps.transactions.run('probe_doomed', async (tx) => {
      attempts += 1;
      await tx.one('SELECT n FROM runner_probe WHERE id = ?', [id]);
      await outsider.query('UPDATE runner_probe SET n = n + 1 WHERE id = $1', [id]);
      await tx.execute('UPDATE runner_probe SET n = n + 100 WHERE id = ?', [id]);
    });
    await expect(doomed).rejects.toBeInstanceOf(RetriesExhausted);
    await expect(doomed).rejects.toMatchObject({ code: 'unavailable' });
    expect(attempts).toBe(3);
    expect(await counterValue(id)).toBe(3);
    expect(await metricSum(deps, 'db_transaction_outcomes_total', { name: 'probe_doomed', outcome: 'exhausted' })).toBe(1);
  });

  it('when retries are exhausted inside a request, then the client gets 503 unavailable as problem+json with Retry-After', async () => {
    const deps = depsWith(2);
    const id = uniqueId('probe');
    await outsider.query('INSERT INTO runner_probe (id, n) VALUES ($1, 0)', [id]);
    const app = new Koa();
    app.use(async (ctx, next) => {
      ctx.state.deps = deps;
      await next();
    });
    app.use(requestContext() as Koa.Middleware);
    app.use(problemResponses() as Koa.Middleware);
    app.use(async (ctx) => {
      await deps.transactions.run('probe_http', async (tx) => {
        await tx.one('SELECT n FROM runner_probe WHERE id = ?', [id]);
        await outsider.query('UPDATE runner_probe SET n = n + 1 WHERE id = $1', [id]);
        await tx.execute('UPDATE runner_probe SET n = n + 100 WHERE id = ?', [id]);
      });
      ctx.body = { ok: true };
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const address = server.address() as { port: number };
    try {
      const response = await fetch(`http://127.0.0.1:${address.port}/`);
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toMatchObject({ code: 'unavailable', status: 503 });
    } finally {
      server.close();
    }
  });

  it('when a transaction writing events runs past the settle guard, then it runs again whole and its event commits once', async () => {
    const deps = toolDeps(
      {
        config: testConfig({ EVENTS_SETTLE_WINDOW_MS: '200', TX_BACKOFF_BASE_MS: '1', TX_BACKOFF_MAX_MS: '5' }),
        topology: loadTopology(),
        region: 'eu-west',
        database_url: inject('database_url'),
        logger: createLogger({ level: 'silent' }),
      },
      db,
    );
    const marker = uniqueId('guard');
    let attempts = 0;
    const [event] = await deps.transactions.run('settle_guard_probe', async (tx) => {
      attempts += 1;
      // The first attempt outlives half the settle window (the guard's bound) before writing its event.
      if (attempts === 1) await tx.execute('SELECT pg_sleep(0.15)');
      return emitEventsIn(tx, deps, [{ type: 'reconciliation.mismatch_found', data: { marker } }]);
    });
    expect(attempts).toBe(2);
    const stored = await outsider.query<{ id: string }>("SELECT id FROM events WHERE data_json LIKE '%' || $1 || '%'", [marker]);
    expect(stored.rows.map((row) => row.id)).toEqual([event!.id]);
    await outsider.query('DELETE FROM events WHERE id = $1', [event!.id]);
  });

  it('when the work throws a non-retryable error, then it is not retried', async () => {
    const deps = depsWith(5);
    let attempts = 0;
    await expect(
      deps.transactions.run('probe_fails', async () => {
        attempts += 1;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(attempts).toBe(1);
  });
});
