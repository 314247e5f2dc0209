export type ItemKind = 'game' | 'currency_pack' | 'skin' | 'consumable';

export interface Item {
  id: string;
  name: string;
  kind: ItemKind;
  price_minor: number;
  currency: string;
  active: boolean;
  refundable: boolean;
  /** What a currency pack credits, in another (game) currency. */
  grants: { currency: string; amount_minor: number } | null;
  /** The merchant it is sold for, with the merchant's revenue share of each sale. */
  merchant: { merchant_id: string; revenue_share_bps: number } | null;
  created_at: string;
  updated_at: string;
}

export function itemView(item: Item) {
  return {
    id: item.id,
    name: item.name,
    kind: item.kind,
    price: item.price_minor,
    currency: item.currency,
    active: item.active,
    refundable: item.refundable,
    grants: item.grants ? { currency: item.grants.currency, amount: item.grants.amount_minor } : null,
    merchant_id: item.merchant?.merchant_id ?? null,
    revenue_share_bps: item.merchant?.revenue_share_bps ?? null,
    created_at: item.created_at,
    updated_at: item.updated_at,
  };
}
export type ItemView = ReturnType<typeof itemView>;
