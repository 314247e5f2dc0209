import type pg from 'pg';

export interface PlanCount {
  /** The statement as prepared. */
  text: string;
  generic: number;
  custom: number;
}

/**
 * The plans PostgreSQL made for each named prepared statement over every connection of `pool`
 * (prepared statements and their plan counts belong to a session), by name; and the
 * planner settings each connection is left with (`plan_cache_mode`, the join methods).
 */
export async function planCounts(pool: pg.Pool): Promise<{ plans: Map<string, PlanCount>; modes: Set<string> }> {
  const connections = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
  const plans = new Map<string, PlanCount>();
  const modes = new Set<string>();
  try {
    for (const connection of connections) {
      const { rows } = await connection.query<{ name: string; statement: string; generic_plans: string; custom_plans: string }>(
        'SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements',
      );
      for (const row of rows) {
        const sum = plans.get(row.name) ?? { text: row.statement, generic: 0, custom: 0 };
        plans.set(row.name, { ...sum, generic: sum.generic + Number(row.generic_plans), custom: sum.custom + Number(row.custom_plans) });
      }
      const settings = await connection.query<{ settings: string }>(
        `SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) AS settings FROM pg_settings
          WHERE name IN ('plan_cache_mode', 'enable_hashjoin', 'enable_mergejoin')`,
      );
      modes.add(settings.rows[0]!.settings);
    }
  } finally {
    for (const connection of connections) connection.release();
  }
  return { plans, modes };
}
