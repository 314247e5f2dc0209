import type pg from 'pg';
import type { Dialect } from './database.js';
import { isDatabaseUnavailable } from './database-errors.js';
import { runPipeline, type PipelinedStatement } from './pipeline.js';
import type { Queryable } from './sql.js';

/**
 * Keyed plans for the rest of the transaction: an explicit one, or the implicit transaction of a
 * pipeline outside one, which ends at its Sync.
 *
 * - Generic: a batch's statements take arrays of another length at each execution, and PostgreSQL,
 *   which plans a prepared statement for the values at hand while that plan looks cheaper than the
 *   generic one, planned them at every execution: as costly as running them (BENCHMARKS.md).
 * - Through the keys, whatever the statistics say (no sequential scan, no hash or merge join): on
 *   small tables (a young database, every test's) PostgreSQL joined a batch's few keys to a scan of
 *   the whole table, and under SERIALIZABLE a transaction that reads every row conflicts with every
 *   concurrent writer of the table, so batches of other accounts aborted each other (40001, "pivot").
 *   A batch names the rows it touches: looking each up by its key is the right plan at any size.
 *
 * Not for webhook deliveries' statements: that table grows from empty under load, and generic plans
 * made on its young statistics read the backlog (tried: 15-23 ms per wake and order check, against
 * 0.13-0.15 ms planned for their values). CockroachDB plans and caches its own way.
 */
export const KEYED_PLANS = [
  "set_config('plan_cache_mode', 'force_generic_plan', true)",
  "set_config('enable_seqscan', 'off', true)",
  "set_config('enable_hashjoin', 'off', true)",
  "set_config('enable_mergejoin', 'off', true)",
].join(' || ');

const PLAN_BY_KEYS: PipelinedStatement = { name: 'keyed_plans', text: `SELECT ${KEYED_PLANS}`, values: [] };

/**
 * The pool, for single statements each given keyed plans: on PostgreSQL a statement goes in one
 * round trip behind the settings, in its own implicit transaction. Unnamed statements (beyond the
 * prepared-statement cap) are planned for their values anyway, and go as they are.
 */
export function plannedByKeys(pool: pg.Pool, dialect: Dialect): Queryable {
  if (dialect !== 'postgres') return pool;
  const query = async (config: pg.QueryConfig) => {
    if (config.name === undefined) return pool.query(config);
    const connection = await pool.connect();
    try {
      const results = await runPipeline(connection, [PLAN_BY_KEYS, { name: config.name, text: config.text, values: config.values ?? [] }]);
      connection.release();
      return results[1]!;
    } catch (error) {
      connection.release(isDatabaseUnavailable(error));
      throw error;
    }
  };
  return { query } as unknown as Queryable;
}
