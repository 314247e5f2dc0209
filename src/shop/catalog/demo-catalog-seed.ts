import type { Seed } from '../../db/seeds.js';

/** A small demo catalog so a fresh `npm start` has something to buy; existing items are left alone. */
export const seedDemoCatalog: Seed = async (tx) => {
  const items: Array<[string, string, string, number, string, boolean, string | null, number | null]> = [
    ['game-space-miners', 'Space Miners (full game)', 'game', 1999, 'EUR', true, null, null],
    ['skin-golden-armor', 'Golden Armor skin', 'skin', 499, 'EUR', true, null, null],
    ['consumable-xp-boost', 'XP boost (1 hour)', 'consumable', 199, 'EUR', false, null, null],
    ['pack-gems-500', '500 gems', 'currency_pack', 499, 'EUR', false, 'GEMS', 500],
    ['skin-neon-wings', 'Neon Wings (gems)', 'skin', 300, 'GEMS', true, null, null],
  ];
  for (const [id, name, kind, price_minor, currency, refundable, grants_currency, grants_amount_minor] of items) {
    await tx.execute(
      `INSERT INTO items (id, name, kind, price_minor, currency, active, refundable, grants_currency, grants_amount_minor)
       VALUES (?, ?, ?, ?, ?, true, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      [id, name, kind, price_minor, currency, refundable, grants_currency, grants_amount_minor],
    );
  }
};
