import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPayoutSimulator, type PayoutSimulator } from '../../tools/payout-simulator/payout-simulator.js';
import { startWebhookListener, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { fixedSeller, SellerWorld } from '../sellers/support.js';
import { request, testConfig } from '../support/cluster.js';
import { expectProblem, key, shopHarness, type ShopHarness } from '../support/shop.js';
import { waitFor } from '../support/wallet.js';
import { type Browser, launchChromium, type Page } from './browser.js';

// The back-office console in real Chromium (Debian's, driven by playwright-core) against three
// pods with their workers, a seller simulator, the payout simulator and a database of their own:
// what an operator does, by keyboard where it matters, and what the API then says.

const CIRCUIT_MIN_CALLS = 3;
const PAYOUT_SECRET = 'console-payouts-'.repeat(3);
/** Tier 1 may cash out this much a day: a second withdrawal breaks it, an AML review flag. */
const DAILY_WITHDRAWALS_MAX_MINOR = 1_500;
let payouts: PayoutSimulator;
let receiver: WebhookListener;
let endpoint_id: string;
let world: SellerWorld;
let shop: ShopHarness;
let browser: Browser;
let page: Page;
/** Errors the page logged (a CSP violation is one): none is expected. Answers with an error status are the API's, shown on the page. */
const page_errors: string[] = [];
const SETTLE_WINDOW_MS = 1000;

beforeAll(async () => {
  payouts = await startPayoutSimulator({ callback_urls: [], secret: PAYOUT_SECRET });
  receiver = await startWebhookListener({ secrets: [] });
  world = await SellerWorld.start({
    sellers: [fixedSeller('flaky', 900, { error_rate: 1 }), fixedSeller('steady', 1000)],
    env: {
      SELLER_QUOTE_CACHE_TTL_MS: '0',
      SELLER_COALESCING: 'false',
      SELLER_CIRCUIT_MIN_CALLS: String(CIRCUIT_MIN_CALLS),
      SELLER_CIRCUIT_FAILURE_RATE: '0.5',
      SELLER_CIRCUIT_COOLDOWN_MS: '60000',
      // One more than the default: the currency pickers list what the pod is configured with.
      CURRENCIES: 'EUR,USD,GBP,GEMS,COINS,CHF',
      PAYOUT_PROVIDER_URL: payouts.url,
      PAYOUT_WEBHOOK_SECRET: PAYOUT_SECRET,
      JOB_POLL_INTERVAL_MS: '100',
      WEBHOOK_POLL_INTERVAL_MS: '100',
      // An endpoint's deliveries are listed once settled (paging never skips a late commit).
      EVENTS_SETTLE_WINDOW_MS: String(SETTLE_WINDOW_MS),
      KYC_LIMITS_ENABLED: 'true',
      WITHDRAWAL_PENDING_TIMEOUT_SECONDS: '1',
      KYC_TIER_LIMITS: JSON.stringify({ 1: { daily_withdrawals_max_minor: DAILY_WITHDRAWALS_MAX_MINOR } }),
    },
  });
  payouts.setCallbackUrls([world.url(0), world.url(1), world.url(2)]);
  const endpoint = { url: `${receiver.url}/hooks`, enabled_events: ['account.frozen', 'account.unfrozen'], description: 'compliance feed' };
  const created = await request(world.url(0), 'POST', '/v1/webhook-endpoints', endpoint, { token: world.admin, key: key() });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  endpoint_id = created.body.id;
  receiver.secrets.push(created.body.secret);
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
  await payouts?.close();
  await receiver?.close();
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

/** Confirms the open dialog by keyboard (its confirm button has the focus) and closes it once done; what it said. */
async function confirmDialog(): Promise<string> {
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  await page.keyboard.press('Enter');
  await dialog.locator('.notice, .problem').first().waitFor();
  const said = (await dialog.locator('.notice, .problem').first().textContent()) ?? '';
  // Done: Close has the focus. Refused: Escape cancels.
  await page.keyboard.press((await dialog.locator('.problem').count()) ? 'Escape' : 'Enter');
  await dialog.waitFor({ state: 'detached' });
  return said;
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
    const currencies = ['EUR', 'USD', 'GBP', 'GEMS', 'COINS', 'CHF'];
    expect(await section('history').locator('select option').allInnerTexts()).toEqual(['All currencies', ...currencies]);
    expect(await section('wallets').locator('select[name=currency] option').allTextContents()).toEqual(currencies);
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

  it('freezes an account: a debit through the API answers 409 account_frozen; unfrozen, it succeeds; the history says who', async () => {
    const player = await shop.player(3_000);
    const debit = () =>
      request(
        world.url(1),
        'POST',
        `/v1/accounts/${player.id}/debits`,
        { amount: 100, currency: 'EUR', reason: 'match fee' },
        {
          token: shop.service,
          key: key(),
        },
      );
    await signIn(world.admin);
    await openAccount(player.id);
    await section('status').getByLabel('Reason (required)').fill('chargeback investigation 7');
    await section('status').getByRole('button', { name: 'Review freeze…' }).click();
    const dialog = page.locator('dialog[open]');
    expect(await dialog.textContent()).toContain('409 account_frozen');
    expect(await dialog.locator('code').textContent()).toMatch(/^[0-9a-f-]{36}$/);
    expect(await confirmDialog()).toBe(`Account ${player.id} is frozen.`);

    expectProblem(await debit(), 409, 'account_frozen');
    await section('status').locator('table').waitFor();
    expect(await section('status').textContent()).toMatch(/frozen.*freezeactive → frozenchargeback investigation 7service:ops/);

    await section('status').getByRole('button', { name: 'Review unfreeze…' }).click();
    expect(await confirmDialog()).toBe(`Account ${player.id} is active.`);
    expect((await debit()).status).toBe(201);
    await reload('wallets');
    expect(await section('wallets').textContent()).toContain('2,900');
    await section('status').locator('tbody tr').nth(1).waitFor();
    expect(await section('status').locator('tbody tr').first().textContent()).toContain('unfreezefrozen → active');
  });

  it("shows the account's events and where each was delivered, and redelivers one to its endpoint", async () => {
    const player = await shop.player(1_000);
    for (const action of ['freeze', 'unfreeze']) {
      const answer = await request(
        world.url(1),
        'POST',
        `/v1/accounts/${player.id}/${action}`,
        { reason: 'check' },
        {
          token: world.admin,
          key: key(),
        },
      );
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    }
    const frozen = await waitFor('account.frozen delivered', 15_000, async () =>
      receiver.deliveries.find((delivery) => delivery.event?.account_id === player.id && delivery.event_type === 'account.frozen'),
    );
    expect(frozen.verified).toBe(true);
    await signIn(world.admin);
    await openAccount(player.id);
    const events = section('events');
    await events.locator('details').first().waitFor();
    expect(await events.locator('summary').allTextContents()).toEqual([
      expect.stringMatching(/^account\.unfrozen · #\d+ · /),
      expect.stringMatching(/^account\.frozen · #\d+ · /),
      expect.stringMatching(/^transaction\.posted · #\d+ · /),
      expect.stringMatching(/^account\.created · #\d+ · /),
    ]);
    const event = events.locator(`[data-event-id="${frozen.event_id}"]`);
    await event.locator('summary').click();
    await event.locator('table').waitFor();
    expect(await event.locator('pre').textContent()).toContain('"status": "frozen"');
    expect(await event.locator('tbody tr').first().textContent()).toMatch(new RegExp(`^${receiver.url}/hooksdelivered1200 in \\d+ ms`));

    await event.getByRole('button', { name: `Redeliver to ${receiver.url}/hooks…` }).click();
    expect(await page.locator('dialog[open]').textContent()).toContain(`account.frozen ${frozen.event_id}`);
    expect(await confirmDialog()).toMatch(/^Delivery [0-9a-f-]{36} is pending\.$/);
    await waitFor('the redelivery', 15_000, async () =>
      receiver.deliveries.filter((delivery) => delivery.event_id === frozen.event_id).length === 2 ? true : undefined,
    );

    await sleep(SETTLE_WINDOW_MS + 200);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    const listed = page.locator(`[data-endpoint-id="${endpoint_id}"]`);
    await listed.locator('summary').click();
    await listed.locator('tbody tr').first().waitFor();
    const rows = await listed.locator('tbody tr', { hasText: frozen.event_id!.slice(0, 8) }).allTextContents();
    expect(rows).toEqual([expect.stringMatching(/redelivery/), expect.stringMatching(/delivered1200 in \d+ ms.*automatic/)]);
  });

  it('raises the KYC tier, then shows a paid withdrawal, its use of the limits, and the AML flag of the next one', async () => {
    const player = await shop.player(5_000);
    const withdraw = (amount: number) =>
      request(
        world.url(2),
        'POST',
        '/v1/withdrawals',
        { account_id: player.id, amount, currency: 'EUR', destination: { type: 'bank_account', reference: 'sim:instant:NL00BANK01' } },
        { token: shop.service, key: key() },
      );
    expectProblem(await withdraw(1_000), 422, 'limit_exceeded'); // tier 0 does not cash out
    await signIn(world.admin);
    await openAccount(player.id);
    await section('limits').locator('table').first().waitFor();
    expect(await section('limits').textContent()).toContain('0 · unverified');
    await section('limits').locator('summary', { hasText: 'Change KYC tier' }).click();
    await section('limits').locator('select[name=tier]').selectOption('1');
    await section('limits').getByRole('textbox', { name: 'Reason' }).fill('passport checked');
    await section('limits').getByRole('button', { name: 'Review tier change…' }).click();
    const dialog = page.locator('dialog[open]');
    expect(await dialog.textContent()).toContain('0 · unverified → 1 · basic');
    expect(await confirmDialog()).toBe(`Account ${player.id} is now at tier 1 · basic.`);

    const created = await withdraw(1_000);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await waitFor('the withdrawal paid', 15_000, async () => {
      const answer = await request(world.url(0), 'GET', `/v1/withdrawals/${created.body.id}`, undefined, { token: shop.service });
      return answer.body.status === 'PAID' ? true : undefined;
    });
    await reload('withdrawals');
    const withdrawal = section('withdrawals').locator(`[data-withdrawal-id="${created.body.id}"]`);
    await withdrawal.locator('summary').click();
    await withdrawal.locator('table').first().waitFor();
    const shown = await withdrawal.textContent();
    expect(shown).toContain('1,000 EUR to bank_account sim:instant:NL00BANK01');
    expect(shown).toMatch(/PAID/);
    expect(shown).toMatch(/payout\.paid/);
    expect(shown).toContain(payouts.payout(created.body.id)!.payout_id);
    await reload('limits');
    const usage = await section('limits')
      .locator('[data-usage-currency="EUR"] tr', { hasText: 'daily_withdrawals_max_minor' })
      .textContent();
    expect(usage).toMatch(/^daily_withdrawals_max_minor1,000500\d{4}-/);

    expectProblem(await withdraw(1_000), 422, 'limit_exceeded');
    await page.getByRole('link', { name: 'AML review flags' }).click();
    const flag = page.locator('tr', { hasText: player.id });
    await flag.waitFor();
    expect(await flag.textContent()).toContain('withdrawal of 1,000 EUR');
    await flag.getByRole('textbox').fill('first cash-out after KYC, fine');
    await flag.getByRole('button', { name: 'Resolve…' }).click();
    expect(await confirmDialog()).toBe('Flag resolved by service:ops.');
    const flags = await request(world.url(0), 'GET', `/v1/admin/review-flags?account_id=${player.id}`, undefined, { token: world.admin });
    expect(flags.body.data).toMatchObject([
      { status: 'resolved', resolution: 'first cash-out after KYC, fine', resolved_by: 'service:ops' },
    ]);
  });

  it('settles by hand a withdrawal the provider never answered: FAILED, and the money back in the wallet', async () => {
    const player = await shop.player(5_000);
    const tier = await request(world.url(0), 'PUT', `/v1/accounts/${player.id}/kyc`, { tier: 1, reason: 'ok' }, { token: world.admin });
    expect(tier.status).toBe(200);
    const destination = { type: 'bank_account', reference: 'sim:silent:NL00BANK02' };
    const cash_out = { account_id: player.id, amount: 700, currency: 'EUR', destination };
    const created = await request(world.url(2), 'POST', '/v1/withdrawals', cash_out, { token: shop.service, key: key() });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const read = () => request(world.url(0), 'GET', `/v1/withdrawals/${created.body.id}`, undefined, { token: shop.service });
    await waitFor('the withdrawal flagged', 15_000, async () => ((await read()).body.needs_reconciliation ? true : undefined));

    await signIn(world.admin);
    await openAccount(player.id);
    const withdrawal = section('withdrawals').locator(`[data-withdrawal-id="${created.body.id}"]`);
    await withdrawal.locator('summary').first().click();
    await withdrawal.locator('select[name=status]').selectOption('FAILED');
    await withdrawal.getByRole('textbox', { name: 'How you know (required)' }).fill('provider ticket 7: never sent');
    await withdrawal.getByRole('button', { name: 'Review settlement…' }).click();
    expect(await page.locator('dialog[open]').textContent()).toContain('the money goes back to the wallet');
    expect(await confirmDialog()).toBe(`Withdrawal ${created.body.id} is FAILED.`);
    expect((await read()).body).toMatchObject({ status: 'FAILED', failure_reason: 'settled by ops: provider ticket 7: never sent' });
    expect((await shop.wallet(player.id)).balance).toBe(5_000);
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
    // A hand-made link with a stray % is read as written (decoding it threw, and the page stayed as it was).
    await page.goto(`${world.url(0)}/console#/accounts/%E0%A4%A`);
    await section('wallets').locator('.problem').waitFor();

    const player = await shop.player(1_000);
    await openAccount(player.id);
    expect(await section('wallets').locator('summary', { hasText: 'Goodwill credit' }).count()).toBe(0);
    await section('status').locator('dl').waitFor();
    expect(await section('status').locator('form').count()).toBe(0);
    expect(await section('status').textContent()).toContain('shown to tokens with compliance:write');

    // Compliance reads accounts, not their money: status, limits and the AML queue, and the actions on them.
    await signIn(await shop.mint.service('compliance:write', 'aml-desk'));
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Find an account', 'AML review flags', 'Live metrics']);
    await openAccount(player.id);
    expect(await page.locator('section h2').allInnerTexts()).toEqual(['Wallets', 'Status', 'KYC limits and usage']);
    await section('status').getByRole('button', { name: 'Review freeze…' }).waitFor();
    await section('limits').locator('summary', { hasText: 'Change KYC tier' }).waitFor();

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
