import { decodeCursor, encodeCursor } from '../../db/cursor.js';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';
import type { Item, ItemKind } from './item.js';

export interface ItemRow {
  id: string;
  name: string;
  kind: ItemKind;
  price_minor: string;
  currency: string;
  active: boolean;
  refundable: boolean;
  grants_currency: string | null;
  grants_amount_minor: string | null;
  merchant_id: string | null;
  revenue_share_bps: number | null;
  created_at: string;
  updated_at: string;
}

export function toItem(row: ItemRow): Item {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    price_minor: int8(row.price_minor),
    currency: row.currency,
    active: row.active,
    refundable: row.refundable,
    grants: row.grants_currency === null ? null : { currency: row.grants_currency, amount_minor: int8(row.grants_amount_minor) },
    merchant: row.merchant_id === null ? null : { merchant_id: row.merchant_id, revenue_share_bps: row.revenue_share_bps! },
    created_at: timestamp(row.created_at),
    updated_at: timestamp(row.updated_at),
  };
}

export type ItemFields = Omit<Item, 'created_at' | 'updated_at'>;

/** Creates or replaces an item; placed orders keep the price they snapshotted. */
export async function upsertItem(tx: SqlTx, item: ItemFields): Promise<{ item: Item; created: boolean }> {
  const row = await tx.one<ItemRow & { created: boolean }>(
    `INSERT INTO items (id, name, kind, price_minor, currency, active, refundable, grants_currency, grants_amount_minor,
       merchant_id, revenue_share_bps)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, price_minor = excluded.price_minor,
       currency = excluded.currency, active = excluded.active, refundable = excluded.refundable,
       grants_currency = excluded.grants_currency, grants_amount_minor = excluded.grants_amount_minor,
       merchant_id = excluded.merchant_id, revenue_share_bps = excluded.revenue_share_bps, updated_at = now()
     RETURNING *, (created_at = updated_at) AS created`,
    [
      item.id,
      item.name,
      item.kind,
      item.price_minor,
      item.currency,
      item.active,
      item.refundable,
      item.grants?.currency ?? null,
      item.grants?.amount_minor ?? null,
      item.merchant?.merchant_id ?? null,
      item.merchant?.revenue_share_bps ?? null,
    ],
  );
  return { item: toItem(row), created: row.created };
}

export async function findItems(tx: SqlTx, ids: readonly string[]): Promise<Map<string, Item>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.rows<ItemRow>('SELECT * FROM items WHERE id = ANY(?::text[])', [[...new Set(ids)]]);
  return new Map(rows.map((row) => [row.id, toItem(row)]));
}

export async function findItem(tx: SqlTx, id: string): Promise<Item | undefined> {
  return (await findItems(tx, [id])).get(id);
}

/** Items newest first, paged on (created_at, id): the catalog is written rarely, by admins only. */
export async function listItems(tx: SqlTx, options: { limit: number; cursor?: string; kind?: string; active?: boolean }) {
  const after = decodeCursor(options.cursor, ['timestamp', 'string']);
  const conditions: string[] = [];
  const params: Array<string | number | boolean> = [];
  if (after) {
    conditions.push('(created_at, id) < (?::timestamptz, ?)');
    params.push(...(after as string[]));
  }
  if (options.kind) {
    conditions.push('kind = ?');
    params.push(options.kind);
  }
  if (options.active !== undefined) {
    conditions.push('active = ?');
    params.push(options.active);
  }
  const rows = await tx.rows<ItemRow>(
    `SELECT * FROM items ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`,
    [...params, options.limit + 1],
  );
  const last = rows.length > options.limit ? rows[options.limit - 1] : undefined;
  return { items: rows.slice(0, options.limit).map(toItem), next_cursor: last ? encodeCursor([last.created_at, last.id]) : null };
}
