import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { DomainError } from '../../domain/errors.js';
import type { SqlTx } from '../../db/sql.js';
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
  /** Sold for a merchant, who receives revenue_share_bps of each sale (both or neither). */
  merchant_id?: string | null;
  revenue_share_bps?: number | null;
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
  // Refunds of consumables are refused whatever the item says (pricing.ts): the catalog must not promise one.
  if (input.kind === 'consumable' && input.refundable)
    throw new DomainError('validation_error', 'a consumable is never refundable ("override_policy" aside): "refundable" must be false');
  const merchant_id = input.merchant_id ?? null;
  const revenue_share_bps = input.revenue_share_bps ?? null;
  if ((merchant_id === null) !== (revenue_share_bps === null))
    throw new DomainError('validation_error', '"merchant_id" and "revenue_share_bps" go together');
  const merchant = merchant_id === null ? null : { merchant_id, revenue_share_bps: revenue_share_bps! };
  const { item, created } = await deps.transactions.run('put_item', async (tx) => {
    if (merchant) await requireMerchantWallet(tx, merchant.merchant_id, input.currency, input.active);
    return upsertItem(tx, {
      id: input.id,
      name: input.name,
      kind: input.kind,
      price_minor: input.price,
      currency: input.currency,
      active: input.active,
      refundable: input.refundable,
      grants: grants && { currency: grants.currency, amount_minor: grants.amount },
      merchant,
    });
  });
  return { status: created ? 201 : 200, body: itemView(item) };
}

/** An item is sold for a merchant that exists and can be paid in the item's currency. */
async function requireMerchantWallet(tx: SqlTx, merchant_id: string, currency: string, active: boolean): Promise<void> {
  const merchant = await tx.maybeOne<{ kind: string; status: string; wallet: string | null }>(
    `SELECT a.kind, a.status, w.currency AS wallet FROM accounts a LEFT JOIN wallets w ON w.account_id = a.id AND w.currency = ?
     WHERE a.id = ?`,
    [currency, merchant_id],
  );
  if (merchant?.kind !== 'merchant') throw new DomainError('validation_error', `"merchant_id" ${merchant_id} is not a merchant`);
  if (merchant.wallet === null) throw new DomainError('validation_error', `merchant ${merchant_id} has no ${currency} wallet`);
  // Every order of it would be refused (the merchant cannot be paid): put on sale, it could never be bought. Taking it off sale is fine.
  if (active && merchant.status === 'closed') {
    throw new DomainError('validation_error', `merchant ${merchant_id} is closed: its items can only be put inactive`);
  }
}
