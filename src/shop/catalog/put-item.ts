import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { DomainError } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { itemView, type ItemKind, type ItemView } from './item.js';
import { upsertItem } from './item-repository.js';

export interface PutItemInput {
  id: string;
  name: string;
  kind: ItemKind;
  price: number;
  currency: string;
  active: boolean;
  refundable: boolean;
  grants?: { currency: string; amount: number } | null;
}

/** Creates or replaces a catalog item (catalog:write). PUT is idempotent by itself: no key needed. */
export async function putItem(deps: AppDeps, actor: Actor, input: PutItemInput): Promise<{ status: number; body: ItemView }> {
  requireScope(actor, 'catalog:write');
  const grants = input.grants ?? null;
  if ((input.kind === 'currency_pack') !== (grants !== null)) {
    throw new DomainError('validation_error', 'a currency_pack needs "grants", and only a currency_pack may have it');
  }
  if (grants && grants.currency === input.currency)
    throw new DomainError('validation_error', 'a currency pack must grant a different currency than its price');
  const { item, created } = await deps.transactions.run('put_item', (tx) =>
    upsertItem(tx, {
      id: input.id,
      name: input.name,
      kind: input.kind,
      price_minor: input.price,
      currency: input.currency,
      active: input.active,
      refundable: input.refundable,
      grants: grants && { currency: grants.currency, amount_minor: grants.amount },
    }),
  );
  return { status: created ? 201 : 200, body: itemView(item) };
}
