import type pg from 'pg';
import type { Dialect } from './database.js';
import { isDatabaseUnavailable } from './database-errors.js';
import { runPipeline, type PipelinedStatement } from './pipeline.js';
import type { Queryable } from './sql.js';

/**
 * Generic plans for the rest of the transaction: an explicit one, or the implicit transaction of a
 * pipeline outside one, which ends at its Sync. A batch's statements take arrays of another length
 * at each execution, and PostgreSQL, which plans a prepared statement for the values at hand while
 * that plan looks cheaper than the generic one, planned them at every execution: as costly as
 * running them (BENCHMARKS.md). Their generic plans are the primary-key lookups they are written
 * for. Not for webhook deliveries' statements: that table grows from empty under load, and generic
 * plans made on its young statistics read the backlog (tried: 15-23 ms per wake and order check,
 * against 0.13-0.15 ms planned for their values). CockroachDB plans and caches its own way.
 */
export const GENERIC_PLANS = "set_config('plan_cache_mode', 'force_generic_plan', true)";

const PLAN_GENERICALLY: PipelinedStatement = { name: 'generic_plans', text: `SELECT ${GENERIC_PLANS}`, values: [] };

/**
 * The pool, for single statements each planned generically: on PostgreSQL a statement goes in one
 * round trip behind the setting, in its own implicit transaction. Unnamed statements (beyond the
 * prepared-statement cap) are planned for their values anyway, and go as they are.
 */
export function genericallyPlanned(pool: pg.Pool, dialect: Dialect): Queryable {
  if (dialect !== 'postgres') return pool;
  const query = async (config: pg.QueryConfig) => {
    if (config.name === undefined) return pool.query(config);
    const connection = await pool.connect();
    try {
      const results = await runPipeline(connection, [
        PLAN_GENERICALLY,
        { name: config.name, text: config.text, values: config.values ?? [] },
      ]);
      connection.release();
      return results[1]!;
    } catch (error) {
      connection.release(isDatabaseUnavailable(error));
      throw error;
    }
  };
  return { query } as unknown as Queryable;
}
