import Joi from 'joi';
import { minorSchema, timestampSchema, unionMembers, viewPart, viewSchema, type ViewKeys } from '../../platform/view-schema.js';

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

export const itemKindSchema = Joi.string().valid(
  ...unionMembers<ItemKind>({ game: true, currency_pack: true, skin: true, consumable: true }),
);

export const itemViewSchema = viewSchema('Item', {
  id: Joi.string(),
  name: Joi.string(),
  kind: itemKindSchema,
  price: minorSchema,
  currency: Joi.string(),
  active: Joi.boolean(),
  refundable: Joi.boolean(),
  grants: viewPart({ currency: Joi.string(), amount: minorSchema })
    .allow(null)
    .description('What a currency pack credits, in another (game) currency'),
  merchant_id: Joi.string().allow(null).description('The merchant it is sold for'),
  revenue_share_bps: Joi.number().integer().allow(null).description("The merchant's share of each sale, in basis points"),
  created_at: timestampSchema,
  updated_at: timestampSchema,
} satisfies ViewKeys<ItemView>);
