import type pg from 'pg';

/**
 * Heap tuples that `run` read from `table` (through its indexes or by scanning it), from the
 * session's own per-transaction counters: `run` must use `client`, which this wraps in a
 * transaction. How much a statement reads does not depend on the machine's speed, as its time does.
 */
export async function tuplesRead<T>(client: pg.Client, table: string, run: () => Promise<T>): Promise<{ result: T; tuples: number }> {
  await client.query('BEGIN');
  const read = async () =>
    Number(
      (
        await client.query<{ n: string }>('SELECT idx_tup_fetch + seq_tup_read AS n FROM pg_stat_xact_user_tables WHERE relname = $1', [
          table,
        ])
      ).rows[0]!.n,
    );
  const before = await read();
  const result = await run();
  const tuples = (await read()) - before;
  await client.query('COMMIT');
  return { result, tuples };
}
