import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { itemView } from './item.js';
import { findItem, listItems } from './item-repository.js';

export async function getItem(deps: AppDeps, id: string) {
  const item = await deps.transactions.read((tx) => findItem(tx, id));
  if (!item) throw notFound(`item ${id}`);
  return itemView(item);
}

export async function browseItems(deps: AppDeps, page: { limit: number; cursor?: string; kind?: string; active?: boolean }) {
  const { items, next_cursor } = await deps.transactions.read((tx) => listItems(tx, page));
  return { data: items.map(itemView), next_cursor };
}
