import { decodeCursor, encodeCursor } from './cursor.js';
import type { SqlParam, SqlTx } from './sql.js';

/** A page of rows and the cursor of the next one (null on the last page). */
export interface RowPage<Row> {
  rows: Row[];
  next_cursor: string | null;
}

export interface NewestFirstQuery {
  columns: string;
  table: string;
  condition: string;
  params: SqlParam[];
  /** The row's time of creation, never updated: the page is cut on (it, id). */
  time_column: 'created_at' | 'received_at';
  /** The type of the id column, which a cursor's id must match. */
  id_type: 'uuid' | 'string';
}

/**
 * One page of the rows of `table` that match `condition`, newest first, cut on (time, id) with
 * full-precision timestamps in the cursor, so that paging never repeats a row. A row whose
 * transaction committed after a later-started one shows only on a fresh walk: these lists are for
 * people looking, not for exports. Table, columns and condition are constants of the caller;
 * values travel as bind parameters.
 */
export async function newestFirstPage<Row>(
  tx: SqlTx,
  query: NewestFirstQuery,
  page: { limit: number; cursor?: string | undefined },
): Promise<RowPage<Row>> {
  const after = decodeCursor(page.cursor, ['timestamp', query.id_type]);
  const time = query.time_column;
  const rows = await tx.rows<Row & { id: string; page_time: string }>(
    `SELECT ${query.columns}, ${time} AS page_time FROM ${query.table} WHERE ${query.condition}
     ${after ? `AND (${time}, id) < (CAST(? AS TIMESTAMPTZ), ?)` : ''} ORDER BY ${time} DESC, id DESC LIMIT ?`,
    [...query.params, ...((after as string[] | undefined) ?? []), page.limit + 1],
  );
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return { rows: rows.slice(0, page.limit), next_cursor: last ? encodeCursor([last.page_time, last.id]) : null };
}
