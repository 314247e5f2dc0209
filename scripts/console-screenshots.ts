import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../src/auth/tokens.js';
import { createCreditshopClient } from '../src/client/creditshop-client.js';
import { loadConfig } from '../src/platform/config.js';
import { launchChromium } from '../test/console/browser.js';
import { startPayoutSimulator } from '../tools/payout-simulator/payout-simulator.js';
import { startSellerSimulator } from '../tools/seller-simulator/seller-simulator.js';
import { startWebhookListener } from '../tools/webhook-listener/listener.js';

// `npm run console:screenshots` with `npm start` running: puts some data into the started cluster
// through the API (a player with an order, a refund, a hold, a top-up, a KYC tier raised, a
// withdrawal paid by a payout simulator listening at PAYOUT_PROVIDER_URL, a freeze and unfreeze, an
// AML review flag; a webhook endpoint at a listener in this script; a failing and a steady seller,
// the failing one called until its circuit opens), then photographs the console's main pages in
// Chromium into docs/console/*.png (the README shows them). CONSOLE_URL picks the pod.

const BASE = process.env['CONSOLE_URL'] ?? 'http://127.0.0.1:3001';
const OUT = 'docs/console';
const CIRCUIT_CALLS = 12;

const config = loadConfig();
const settings = { secret: config.auth_jwt_secret, issuer: config.auth_jwt_issuer, audience: config.auth_jwt_audience };
const admin = await mintToken({ sub: 'ops', scope: 'admin', expires_in_seconds: 3600 }, settings);
const api = createCreditshopClient({ baseUrl: BASE, token: admin });

async function ok<T>(answer: Promise<{ data?: T; error?: unknown }>): Promise<T> {
  const { data, error } = await answer;
  if (data === undefined) throw new Error(JSON.stringify(error));
  return data;
}

const receiver = await startWebhookListener({ secrets: [] });
const hook = { url: `${receiver.url}/creditshop`, enabled_events: ['*' as const], description: 'game backend' };
receiver.secrets.push((await ok(api.POST('/v1/webhook-endpoints', { body: hook }))).secret);
const player = `player-${Date.now().toString(36)}`;
await ok(api.POST('/v1/accounts', { body: { id: player, currency: 'EUR' } }));
await ok(
  api.POST('/v1/accounts/{id}/credits', {
    params: { path: { id: player } },
    body: { amount: 10_000, currency: 'EUR', reason: 'welcome bonus' },
  }),
);
const lines = [
  { item_id: 'skin-golden-armor', quantity: 1 },
  { item_id: 'pack-gems-500', quantity: 1 },
];
const order = await ok(api.POST('/v1/orders', { body: { account_id: player, lines } }));
await ok(
  api.POST('/v1/orders/{id}/refunds', {
    params: { path: { id: order.id } },
    body: { lines: [{ item_id: 'skin-golden-armor', quantity: 1 }], reason: 'support ticket 42' },
  }),
);
await ok(
  api.POST('/v1/holds', { body: { account_id: player, amount: 700, currency: 'EUR', expires_in_seconds: 3600, reference: 'match entry' } }),
);
await ok(api.POST('/v1/topups', { body: { account_id: player, amount: 2000, currency: 'EUR' } }));

const payout_url = new URL(config.wallet.payout_provider_url);
const payouts = await startPayoutSimulator({
  host: payout_url.hostname,
  port: Number(payout_url.port),
  callback_urls: [BASE],
  secret: config.wallet.payout_webhook_secret,
});
const simulator = await startSellerSimulator({
  sellers: [
    { id: 'steady-books', prices: { 'book-1': 900 }, stock: { 'book-1': 1000 } },
    { id: 'flaky-keys', prices: { 'book-1': 800 }, stock: { 'book-1': 1000 }, error_rate: 1 },
  ],
  window_ms: 60_000,
});
try {
  for (const id of ['steady-books', 'flaky-keys']) {
    const body = { base_url: simulator.baseUrl(id), rate_limit_per_minute: 600, timeout_ms: 1000, supports_holds: true, active: true };
    await ok(api.PUT('/v1/sellers/{id}', { params: { path: { id } }, body }));
  }
  // Distinct products, so that no cached quote spares the failing seller a call.
  for (let call = 0; call < CIRCUIT_CALLS; call += 1) {
    const body = {
      account_id: player,
      product_id: call === 0 ? 'book-1' : `book-${call}-${Date.now()}`,
      max_price: 1000,
      currency: 'EUR' as const,
    };
    await ok(api.POST('/v1/purchase-requests', { body }));
  }
  await sleep(3000);

  const account = { params: { path: { id: player } } };
  await ok(api.PUT('/v1/accounts/{id}/kyc', { ...account, body: { tier: 1, reason: 'passport checked' } }));
  const destination = { type: 'bank_account', reference: 'NL91ABNA0417164300' };
  await ok(api.POST('/v1/withdrawals', { body: { account_id: player, amount: 1500, currency: 'EUR', destination } }));
  await ok(api.POST('/v1/accounts/{id}/freeze', { ...account, body: { reason: 'chargeback investigation 7' } }));
  await ok(api.POST('/v1/accounts/{id}/unfreeze', { ...account, body: { reason: 'chargeback withdrawn' } }));
  // A daily debit limit just above what the player spent today: the next debit breaks it, an AML review flag.
  const limits = await ok(api.GET('/v1/accounts/{id}/limits', account));
  const spent = limits.usage.find((usage) => usage.currency === 'EUR')?.debits_today ?? 0;
  await ok(api.PUT('/v1/accounts/{id}/limits', { ...account, body: { daily_debits_max_minor: spent + 1000 } }));
  const refused = await api.POST('/v1/accounts/{id}/debits', { ...account, body: { amount: 2000, currency: 'EUR', reason: 'tournament' } });
  if (refused.error?.code !== 'limit_exceeded') throw new Error(`expected limit_exceeded, got ${JSON.stringify(refused.error)}`);
  await sleep(1000);

  await mkdir(OUT, { recursive: true });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${BASE}/console`);
    await page.locator('#token').fill(admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const shoot = async (hash: string, name: string, ready: () => Promise<unknown>) => {
      await page.goto(`${BASE}/console${hash}`);
      await ready();
      await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
      console.log(`${OUT}/${name}.png`);
    };
    await shoot(`#/accounts/${player}`, 'account', async () => {
      await page.locator('[aria-busy]').first().waitFor({ state: 'detached' });
      await page.locator('#section-orders summary').first().click();
      await page.locator('#section-withdrawals summary').first().click();
      await page.locator('#section-withdrawals table').first().waitFor();
      await page.locator('#section-events summary').first().click();
      await page.locator('#section-events table').first().waitFor();
    });
    await shoot('#/ops/sellers', 'sellers', () => page.locator('[data-seller-id]').first().waitFor());
    await shoot('#/ops/reconciliation', 'reconciliation', async () => {
      await page.getByRole('button', { name: 'Run reconciliation' }).click();
      await page.locator('.badge').first().waitFor();
    });
    await shoot('#/ops/review', 'review', () => page.locator('[aria-busy]').first().waitFor({ state: 'detached' }));
    await shoot('#/ops/webhooks', 'webhooks', async () => {
      await page.locator('[data-endpoint-id] summary').first().click();
      await page.locator('[data-endpoint-id] table').first().waitFor();
    });
    await shoot('#/ops/review-flags', 'review-flags', () => page.locator('[data-flag-id]').first().waitFor());
    await shoot('#/ops/metrics', 'metrics', () => sleep(7000));
  } finally {
    await browser.close();
  }
} finally {
  await simulator.close();
  await payouts.close();
  await receiver.close();
}
