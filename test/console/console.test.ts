import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSeller, SellerWorld } from '../sellers/support.js';
import { request, testConfig } from '../support/cluster.js';
import { key, shopHarness, type ShopHarness } from '../support/shop.js';
import { type Browser, launchChromium, type Page } from './browser.js';

// The back-office console in real Chromium (Debian's, driven by playwright-core) against three
// pods with their workers, a seller simulator and a database of their own: what an operator does,
// by keyboard where it matters, and what the API then says.

const CIRCUIT_MIN_CALLS = 3;
let world: SellerWorld;
let shop: ShopHarness;
let browser: Browser;
let page: Page;
/** Errors the page logged (a CSP violation is one): none is expected. Answers with an error status are the API's, shown on the page. */
const page_errors: string[] = [];

beforeAll(async () => {
  world = await SellerWorld.start({
    sellers: [fixedSeller('flaky', 900, { error_rate: 1 }), fixedSeller('steady', 1000)],
    env: {
      SELLER_QUOTE_CACHE_TTL_MS: '0',
      SELLER_COALESCING: 'false',
      SELLER_CIRCUIT_MIN_CALLS: String(CIRCUIT_MIN_CALLS),
      SELLER_CIRCUIT_FAILURE_RATE: '0.5',
      SELLER_CIRCUIT_COOLDOWN_MS: '60000',
    },
  });
  shop = await shopHarness([world.url(0), world.url(1), world.url(2)], testConfig());
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) page_errors.push(message.text());
  });
  page.on('pageerror', (error) => page_errors.push(error.message));
});
afterAll(async () => {
  await browser?.close();
  await world?.stop();
});

const section = (id: string) => page.locator(`#section-${id}`);

async function signIn(token: string): Promise<void> {
  await page.goto(`${world.url(0)}/console`);
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  await page.locator('#token').waitFor();
  // Keyboard only: the token field has the focus, Tab reaches the button, Enter signs in.
  await page.keyboard.insertText(token);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.locator('nav a').first().waitFor();
}

async function openAccount(account_id: string): Promise<void> {
  await page.goto(`${world.url(0)}/console#/`);
  await page.locator('#account-id').waitFor();
  await page.keyboard.insertText(account_id);
  await page.keyboard.press('Enter');
  await section('wallets').locator('table, .problem').first().waitFor();
}

async function reload(id: string): Promise<void> {
  await section(id)
    .getByRole('button', { name: /^Reload/ })
    .click();
  await section(id).locator('[aria-busy]').waitFor({ state: 'detached' });
}

describe('the back-office console in Chromium', () => {
  it('is served with a strict policy: no inline script, only this pod', async () => {
    const response = await page.goto(`${world.url(1)}/console`);
    const policy = response!.headers()['content-security-policy'];
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("default-src 'none'");
    expect(policy).not.toContain('unsafe-inline');
    const script = await request(world.url(1), 'GET', '/console/console.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');
    expect(script.text).toContain('Idempotency-Key');
  });

  it('finds a player, sees a purchase appear, refunds one line: the entitlement is revoked and the balance changes', async () => {
    const sword = await shop.putItem({ price: 300 });
    const shield = await shop.putItem({ price: 200 });
    const player = await shop.player(5_000);
    await signIn(shop.admin);
    await openAccount(player.id);
    await expect.poll(() => section('wallets').textContent()).toContain('5,000');
    expect(await section('orders').textContent()).toContain('No orders yet.');

    const lines = [
      { item_id: sword, quantity: 1 },
      { item_id: shield, quantity: 1 },
    ];
    const placed = await request(world.url(2), 'POST', '/v1/orders', { account_id: player.id, lines }, { token: player.token, key: key() });
    expect(placed.status).toBe(201);
    await reload('orders');
    const order = section('orders').locator(`[data-order-id="${placed.body.id}"]`);
    await order.waitFor();
    expect(await order.textContent()).toContain('COMPLETED');

    await order.locator('summary', { hasText: 'Refund lines' }).click();
    await order
      .getByLabel(/: quantity to refund/)
      .first()
      .fill('1');
    await order.getByLabel('Reason (required)').fill('customer support ticket 42');
    await order.getByRole('button', { name: 'Review refund…' }).click();
    const dialog = page.locator('dialog[open]');
    expect(await dialog.textContent()).toMatch(/1 × .*item-/);
    expect(await dialog.locator('code').textContent()).toMatch(/^[0-9a-f-]{36}$/);
    await page.keyboard.press('Enter');
    await dialog.locator('.notice').waitFor();
    expect(await dialog.locator('.notice').textContent()).toContain('Refunded 300 EUR');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });

    await section('entitlements').locator('table').waitFor();
    const entitlements = await section('entitlements').textContent();
    expect(entitlements).toMatch(new RegExp(`${sword}REVOKED`));
    expect(entitlements).toMatch(new RegExp(`${shield}ACTIVE`));
    await expect.poll(() => section('wallets').textContent()).toContain('4,800');
    expect(await shop.wallet(player.id)).toMatchObject({ balance: 4_800 });
    const revoked = (await shop.entitlements(player.id)).find((entitlement) => entitlement.item_id === sword);
    expect(revoked).toMatchObject({ status: 'REVOKED' });
  });

  it("shows a purchase request's quotes and attempts, and a seller's circuit open", async () => {
    const buyer = await world.player(20_000);
    for (let request_number = 0; request_number < CIRCUIT_MIN_CALLS; request_number += 1) {
      expect(await world.final(buyer, await world.purchase(buyer, 'book-1', 2000, request_number))).toMatchObject({ seller_id: 'steady' });
    }
    await signIn(world.admin);
    await openAccount(buyer.id);
    await section('purchase-requests').locator('details').first().waitFor();
    const request_text = await section('purchase-requests').locator('details').first().textContent();
    expect(request_text).toContain('purchased');

    await page.getByRole('link', { name: 'Sellers' }).click();
    const circuit = (seller: string) => page.locator('tr', { has: page.locator(`[data-seller-id="${seller}"]`) }).locator('.badge');
    // The page refreshes itself every 5 s: the circuit opens on screen without a reload.
    await expect
      .poll(async () => ((await circuit('flaky').count()) ? circuit('flaky').textContent() : null), { timeout: 15_000 })
      .toBe('open');
    expect(await circuit('steady').textContent()).toBe('closed');
    expect(await page.locator('tr', { has: page.locator('[data-seller-id="flaky"]') }).textContent()).toContain('100% of 3');
  });

  it('shows only what the token may do, and problems as their title and detail', async () => {
    const support = await shop.mint.service('refunds:write', 'support-desk');
    await signIn(support);
    const links = await page.locator('nav a').allInnerTexts();
    expect(links).toEqual(['Find an account', 'Live metrics']);
    await openAccount(`nobody-${Date.now()}`);
    const problem = section('wallets').locator('.problem');
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/Not found — account nobody-\d+ was not found \(404 not_found\)/);

    const player = await shop.player(1_000);
    await openAccount(player.id);
    expect(await section('wallets').locator('summary', { hasText: 'Goodwill credit' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Live metrics' }).click();
    await page.locator('figure.chart').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('figure.chart figcaption').allInnerTexts()).toEqual([
      'Throughput (requests/s)',
      'Latency percentiles (ms)',
      'Transaction retries (retries/s)',
      '503 answers (answers/s)',
    ]);
    expect(page_errors).toEqual([]);
  });
});
