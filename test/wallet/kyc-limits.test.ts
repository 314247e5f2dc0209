import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import { startCluster } from '../support/cluster.js';
import { tally } from '../support/ledger.js';
import { expectProblem } from '../support/shop.js';
import { walletHarness, type WalletHarness } from '../support/wallet.js';

// KYC tiers, limits and velocity checks (issue 11), with small limits so that tests reach them.
const TIERS = {
  0: {
    balance_max_minor: 50_000,
    debit_max_minor: 5_000,
    transfer_max_minor: 3_000,
    daily_debits_max_minor: 10_000,
    daily_transfers_out_max_minor: 6_000,
    transfers_out_per_hour_max: 4,
    withdrawals_allowed: false,
  },
  1: {
    balance_max_minor: 500_000,
    debit_max_minor: 50_000,
    daily_debits_max_minor: 100_000,
    transfer_max_minor: 30_000,
    daily_transfers_out_max_minor: 60_000,
    transfers_out_per_hour_max: 20,
  },
};

let h: WalletHarness;
let payout_secret: string;

beforeAll(async () => {
  const cluster = await startCluster({ env: { KYC_LIMITS_ENABLED: 'true', KYC_TIER_LIMITS: JSON.stringify(TIERS) } });
  payout_secret = cluster.config.wallet.payout_webhook_secret;
  h = await walletHarness(cluster);
});
afterAll(() => h?.stop());

const debit = (id: string, amount: number, currency = 'EUR', pod = 0) =>
  h.post(`/v1/accounts/${id}/debits`, { amount, currency, reason: 'spend' }, h.service, { pod });
const transfer = (from: string, to: string, amount: number, pod = 0) =>
  h.post('/v1/transfers', { from_account_id: from, to_account_id: to, amount, currency: 'EUR' }, h.service, { pod });
const nextUtcMidnight = () => new Date(Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000).toISOString();

describe('limits per tier', () => {
  it('when an unverified account debits over one debit or the daily sum, then 422 limit_exceeded says which; nothing moves', async () => {
    const id = await h.openAccount(40_000);
    const over_single = await debit(id, 5_001);
    expectProblem(over_single, 422, 'limit_exceeded');
    expect(over_single.body).toMatchObject({ limit: 'debit_max_minor', value: 5_000, remaining: 5_000, resets_at: null, currency: 'EUR' });
    expect((await debit(id, 5_000)).status).toBe(201);
    expect((await debit(id, 4_000)).status).toBe(201);
    const over_daily = await debit(id, 1_001);
    expectProblem(over_daily, 422, 'limit_exceeded');
    expect(over_daily.body).toMatchObject({
      limit: 'daily_debits_max_minor',
      value: 10_000,
      remaining: 1_000,
      resets_at: nextUtcMidnight(),
    });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 31_000, held: 0, available: 31_000 });

    // Verified (tier 1): the same account may spend more at once.
    await h.setTier(id, 1);
    expect((await debit(id, 20_000)).status).toBe(201);
    const limits = await h.get(`/v1/accounts/${id}/limits`, await h.mint.player(id));
    expect(limits.status).toBe(200);
    expect(limits.body).toMatchObject({
      kyc_tier: 1,
      limits_apply: true,
      limits: { daily_debits_max_minor: { value: 100_000, source: 'tier' } },
    });
    expect(limits.body.usage).toEqual([
      expect.objectContaining({ currency: 'EUR', debits_today: 29_000, day_resets_at: nextUtcMidnight() }),
    ]);
    await h.expectReconcileClean();
  });

  it('when a credit would take a wallet over its tier maximum, then 422 for its own account and a blind 409 for a sender', async () => {
    const id = await h.openAccount(45_000);
    const credit = await h.post(`/v1/accounts/${id}/credits`, { amount: 5_001, currency: 'EUR', reason: 'bonus' }, h.service);
    expectProblem(credit, 422, 'limit_exceeded');
    expect(credit.body).toMatchObject({ limit: 'balance_max_minor', value: 50_000, remaining: 5_000 });
    // Top-ups being paid count: two of 3,000 would both be paid at the PSP, and the second held for review.
    const topup = (amount: number) => h.post('/v1/topups', { account_id: id, amount, currency: 'EUR' }, h.service);
    expect((await topup(3_000)).status).toBe(201);
    const second = await topup(3_000);
    expectProblem(second, 422, 'limit_exceeded');
    expect(second.body).toMatchObject({ limit: 'balance_max_minor', value: 50_000, remaining: 2_000 });
    expect((await topup(2_000)).status).toBe(201);
    const sender = await h.openAccount(10_000);
    await h.setTier(sender, 1);
    const sent = await transfer(sender, id, 5_001);
    expectProblem(sent, 409, 'invalid_state');
    expect(JSON.stringify(sent.body)).not.toMatch(/50000|45000|balance_max/);
    expect(await h.wallet(id)).toMatchObject({ balance: 45_000 });
    expect(await h.wallet(sender)).toMatchObject({ balance: 10_000 });
  });

  it('when money moves in a currency the limits do not cover (a game currency), then no limit applies', async () => {
    const id = await h.openAccount(0);
    expect((await h.post(`/v1/accounts/${id}/credits`, { amount: 900_000, currency: 'GEMS', reason: 'pack' }, h.service)).status).toBe(201);
    expect((await debit(id, 300_000, 'GEMS')).status).toBe(201);
  });
});

describe('withdrawals and tiers', () => {
  it('when an unverified account withdraws, then 422 withdrawals_allowed; a verified one up to its single withdrawal maximum', async () => {
    const id = await h.openAccount(40_000);
    const body = (amount: number) => ({
      account_id: id,
      amount,
      currency: 'EUR',
      destination: { type: 'bank_account', reference: 'NL00' },
    });
    const refused = await h.post('/v1/withdrawals', body(100), h.service);
    expectProblem(refused, 422, 'limit_exceeded');
    expect(refused.body).toMatchObject({ limit: 'withdrawals_allowed', value: false, remaining: 0, resets_at: null });
    await h.setTier(id, 1);
    expect((await h.setLimits(id, { withdrawal_max_minor: 10_000 })).status).toBe(200);
    const over = await h.post('/v1/withdrawals', body(10_001), h.service);
    expect(over.body).toMatchObject({ limit: 'withdrawal_max_minor', value: 10_000 });
    expect(await h.wallet(id)).toMatchObject({ balance: 40_000 });
  });

  it('when a payout fails, then it no longer counts in the day withdrawal limit: the same amount again is allowed', async () => {
    const id = await h.openAccount(40_000);
    await h.setTier(id, 1);
    expect((await h.setLimits(id, { daily_withdrawals_max_minor: 3_000 })).status).toBe(200);
    const withdraw = () =>
      h.post(
        '/v1/withdrawals',
        { account_id: id, amount: 2_000, currency: 'EUR', destination: { type: 'bank_account', reference: 'NL00' } },
        h.service,
      );
    const usage = async () => (await h.get(`/v1/accounts/${id}/limits`, h.compliance)).body.usage[0];
    const first = await withdraw();
    expect(first.status).toBe(201);
    expect(await usage()).toMatchObject({ withdrawals_today: 2_000 });
    // The provider's signed report that the payout failed: the money comes back.
    const data = { withdrawal_id: first.body.id, amount: 2_000, currency: 'EUR', payout_id: 'po_failed', failure_reason: 'closed' };
    const raw = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'payout.failed', data });
    const callback = await fetch(`${h.urls[0]}/v1/payouts/events`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Payout-Signature': signatureHeader(payout_secret, Math.floor(Date.now() / 1000), raw),
      },
      body: raw,
    });
    expect(callback.status).toBe(200);
    expect((await h.get(`/v1/withdrawals/${first.body.id}`, h.service)).body).toMatchObject({ status: 'FAILED' });
    expect(await usage()).toMatchObject({ withdrawals_today: 0, remaining: { daily_withdrawals_max_minor: 3_000 } });
    expect((await withdraw()).status).toBe(201);
    expect(await usage()).toMatchObject({ withdrawals_today: 2_000, remaining: { daily_withdrawals_max_minor: 1_000 } });
    expectProblem(await withdraw(), 422, 'limit_exceeded');
    expect(await h.wallet(id)).toMatchObject({ balance: 38_000 });
  });

  it('when an unverified account cashes out a game currency (amounts unlimited), then 422 withdrawals_allowed all the same', async () => {
    const id = await h.openAccount(0);
    expect((await h.post(`/v1/accounts/${id}/credits`, { amount: 5_000, currency: 'GEMS', reason: 'won' }, h.service)).status).toBe(201);
    const body = { account_id: id, amount: 5_000, currency: 'GEMS', destination: { type: 'bank_account', reference: 'NL00' } };
    const refused = await h.post('/v1/withdrawals', body, h.service);
    expectProblem(refused, 422, 'limit_exceeded');
    expect(refused.body).toMatchObject({ limit: 'withdrawals_allowed', value: false, currency: 'GEMS' });
    await h.setTier(id, 1);
    expect((await h.post('/v1/withdrawals', body, h.service)).status).toBe(201);
  });
});

describe('per-account overrides', () => {
  it('when compliance raises one limit of a VIP, then it applies to that account only, and null gives it back to the tier', async () => {
    const vip = await h.openAccount(40_000);
    const other = await h.openAccount(40_000);
    const raised = await h.setLimits(vip, { daily_debits_max_minor: 20_000, debit_max_minor: 15_000 });
    expect(raised.status, JSON.stringify(raised.body)).toBe(200);
    expect(raised.body.limits).toMatchObject({
      daily_debits_max_minor: { value: 20_000, source: 'override' },
      debit_max_minor: { value: 15_000, source: 'override' },
      transfer_max_minor: { value: 3_000, source: 'tier' },
    });
    expect((await debit(vip, 15_000)).status).toBe(201);
    expectProblem(await debit(other, 15_000), 422, 'limit_exceeded');
    const cleared = await h.setLimits(vip, { debit_max_minor: null });
    expect(cleared.body.limits.debit_max_minor).toEqual({ value: 5_000, source: 'tier' });
    expect((await debit(vip, 5_001)).body).toMatchObject({ code: 'limit_exceeded', limit: 'debit_max_minor' });
    expect((await debit(vip, 5_000)).status).toBe(201);
    expect((await debit(vip, 1)).body).toMatchObject({ code: 'limit_exceeded', limit: 'daily_debits_max_minor', remaining: 0 });
    const log = await h.get(`/v1/accounts/${vip}/compliance-actions`, h.compliance);
    expect(log.body.data.map((action: { action: string }) => action.action)).toEqual(['limits', 'limits']);
    expect(log.body.data[1]).toMatchObject({ actor: 'service:compliance-desk', details: { changes: { daily_debits_max_minor: 20_000 } } });
  });

  it('when a service without compliance:write or a player sets a tier or limits, then 403 and nothing changes', async () => {
    const id = await h.openAccount(0);
    for (const token of [h.service, await h.mint.player(id)]) {
      expectProblem(await h.put(`/v1/accounts/${id}/kyc`, { tier: 2, reason: 'self-service' }, token), 403, 'forbidden');
      expectProblem(await h.put(`/v1/accounts/${id}/limits`, { daily_debits_max_minor: 1 }, token), 403, 'forbidden');
    }
    expect((await h.get(`/v1/accounts/${id}`, h.service)).body).toMatchObject({ kyc_tier: 0 });
  });
});

describe('resets', () => {
  it('when the UTC day (or hour) of a wallet’s usage is over, then its sums (or counts) start from zero again', async () => {
    const id = await h.openAccount(40_000);
    const to = await h.openAccount(0);
    expect((await debit(id, 5_000)).status).toBe(201);
    expect((await debit(id, 5_000)).status).toBe(201);
    expectProblem(await debit(id, 1), 422, 'limit_exceeded');
    for (let i = 0; i < 4; i += 1) expect((await transfer(id, to, 100)).status).toBe(201);
    expect((await transfer(id, to, 100)).body).toMatchObject({ code: 'limit_exceeded', limit: 'transfers_out_per_hour_max', remaining: 0 });

    // The wallet's windows began an hour earlier: the hourly count resets, the day's sums stay.
    await h.sql.query("UPDATE wallets SET usage_hour_start = usage_hour_start - interval '1 hour' WHERE account_id = $1", [id]);
    expect((await transfer(id, to, 100)).status).toBe(201);
    expectProblem(await debit(id, 1), 422, 'limit_exceeded');
    // And a day earlier: the daily sums reset too.
    await h.sql.query(
      `UPDATE wallets SET usage_day_start = usage_day_start - interval '1 day', usage_hour_start = usage_hour_start - interval '1 day'
       WHERE account_id = $1`,
      [id],
    );
    expect((await debit(id, 5_000)).status).toBe(201);
    const limits = await h.get(`/v1/accounts/${id}/limits`, h.service);
    expect(limits.body.usage[0]).toMatchObject({ debits_today: 5_000, transfers_out_today: 0, transfers_out_this_hour: 0 });
    await h.expectReconcileClean();
  });
});

describe('velocity breaches are AML review flags', () => {
  it('when a velocity limit refuses an operation, then one open flag per limit and window is listed; compliance resolves it', async () => {
    const id = await h.openAccount(40_000);
    expect((await debit(id, 5_000)).status).toBe(201);
    expect((await debit(id, 5_000)).status).toBe(201);
    for (let i = 0; i < 3; i += 1) expectProblem(await debit(id, 2_000), 422, 'limit_exceeded');
    expectProblem(await debit(id, 5_001), 422, 'limit_exceeded'); // a single-debit limit: not a velocity breach

    const listed = await h.get(`/v1/admin/review-flags?account_id=${id}`, h.compliance);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    const [flag] = listed.body.data;
    expect(flag).toMatchObject({
      account_id: id,
      currency: 'EUR',
      limit: 'daily_debits_max_minor',
      limit_value: 10_000,
      used: 10_000,
      attempted: 2_000,
      operation: 'debit',
      status: 'open',
    });
    expectProblem(await h.get('/v1/admin/review-flags', h.service), 403, 'forbidden');
    const resolved = await h.put(`/v1/admin/review-flags/${flag.id}/resolution`, { resolution: 'salary day, fine' }, h.admin);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolution: 'salary day, fine', resolved_by: 'service:ops' });
    expect((await h.get(`/v1/admin/review-flags?account_id=${id}&status=open`, h.compliance)).body.data).toEqual([]);
    // The refused debits moved nothing.
    expect(await h.wallet(id)).toMatchObject({ balance: 30_000 });
  });

  it('when a hold is asked beyond what the account may still spend today, then 422 and no hold', async () => {
    const id = await h.openAccount(40_000);
    expect((await debit(id, 5_000)).status).toBe(201);
    const hold = await h.post('/v1/holds', { account_id: id, amount: 5_001, currency: 'EUR', expires_in_seconds: 60 }, h.service);
    expect(hold.body).toMatchObject({ code: 'limit_exceeded', limit: 'debit_max_minor' });
    const fits = await h.post('/v1/holds', { account_id: id, amount: 5_000, currency: 'EUR', expires_in_seconds: 60 }, h.service);
    expect(fits.status).toBe(201);
    const capture = await h.post(`/v1/holds/${fits.body.id}/capture`, {}, h.service);
    expect(capture.status).toBe(200);
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 30_000, held: 0, available: 30_000 });
    expectProblem(
      await h.post('/v1/holds', { account_id: id, amount: 1, currency: 'EUR', expires_in_seconds: 60 }, h.service),
      422,
      'limit_exceeded',
    );
  });

  it('when holds side by side would together pass the daily limit, then the one beyond it is refused', async () => {
    const id = await h.openAccount(40_000);
    const hold = (amount: number) => h.post('/v1/holds', { account_id: id, amount, currency: 'EUR', expires_in_seconds: 60 }, h.service);
    expect((await hold(5_000)).status).toBe(201);
    expect((await hold(5_000)).status).toBe(201);
    // Each within one debit and the day's 10,000 on its own; the open holds have taken the day's room.
    const beyond = await hold(1);
    expectProblem(beyond, 422, 'limit_exceeded');
    expect(beyond.body).toMatchObject({ limit: 'daily_debits_max_minor', remaining: 0 });
    expect(await h.wallet(id)).toMatchObject({ balance: 40_000, held: 10_000 });
  });

  it('when debits follow a hold, then they have only the room the hold left: its capture is never refused for them', async () => {
    const id = await h.openAccount(40_000);
    const held = await h.post('/v1/holds', { account_id: id, amount: 5_000, currency: 'EUR', expires_in_seconds: 60 }, h.service);
    expect(held.status).toBe(201);
    expect((await debit(id, 4_000)).status).toBe(201);
    // What GET /limits says remains is what a debit may still take (it once left the hold out: 6,000).
    const usage = (await h.get(`/v1/accounts/${id}/limits`, h.compliance)).body.usage[0];
    expect(usage).toMatchObject({ debits_today: 4_000, held: 5_000, remaining: { daily_debits_max_minor: 1_000 } });
    // Debits once ignored open holds: this one passed, and the capture authorized before it was refused (422).
    const beyond = await debit(id, 1_001);
    expectProblem(beyond, 422, 'limit_exceeded');
    expect(beyond.body).toMatchObject({ limit: 'daily_debits_max_minor', remaining: 1_000 });
    // One debit's limit is 5,000, but 1,000 is all the day still allows: that is what remains.
    expect((await debit(id, 5_001)).body).toMatchObject({ limit: 'debit_max_minor', remaining: 1_000 });
    expect((await h.post(`/v1/holds/${held.body.id}/capture`, {}, h.service)).status).toBe(200);
    expect((await debit(id, 1_000)).status).toBe(201);
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 30_000, held: 0, available: 30_000 });
  });
});

describe('a daily limit under concurrency', () => {
  it('when 50 transfers race a daily limit across three pods, then the sum accepted never exceeds it; one flag records it', async () => {
    const sender = await h.openAccount(45_000);
    const recipients = await Promise.all(Array.from({ length: 5 }, () => h.openAccount(0)));
    const limit_minor = 10_000;
    const limits = await h.setLimits(sender, {
      daily_transfers_out_max_minor: limit_minor,
      transfer_max_minor: 1_000,
      transfers_out_per_hour_max: 1000,
    });
    expect(limits.status).toBe(200);
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => transfer(sender, recipients[i % 5]!, 700, i)));
    const counts = tally(responses);
    expect(Object.keys(counts).sort()).toEqual(['201', '422 limit_exceeded']);
    const accepted = responses.filter((response) => response.status === 201).reduce((sum, response) => sum + response.body.amount, 0);
    expect(accepted).toBeLessThanOrEqual(limit_minor);
    // Every transfer that fit was accepted: 14 × 700 = 9,800, a 15th would pass the limit.
    expect(accepted).toBe(9_800);
    expect(await h.wallet(sender)).toMatchObject({ balance: 45_000 - 9_800 });
    const flags = await h.get(`/v1/admin/review-flags?account_id=${sender}`, h.compliance);
    expect(flags.body.data.map((flag: { limit: string }) => flag.limit)).toEqual(['daily_transfers_out_max_minor']);
    await h.expectReconcileClean();
  });
});

describe('bad input', () => {
  it('when a tier, a limit or a flag resolution is malformed, then 400 problem+json and nothing changes', async () => {
    const id = await h.openAccount(0);
    const bodies: Array<[string, unknown]> = [
      [`/v1/accounts/${id}/kyc`, { tier: 3, reason: 'x' }],
      [`/v1/accounts/${id}/kyc`, { tier: '1', reason: 'x' }],
      [`/v1/accounts/${id}/kyc`, { tier: 1 }],
      [`/v1/accounts/${id}/kyc`, { tier: 1, reason: '' }],
      [`/v1/accounts/${id}/kyc`, { tier: 1, reason: 'x', extra: true }],
      [`/v1/accounts/${id}/limits`, {}],
      [`/v1/accounts/${id}/limits`, { daily_debits_max_minor: -1 }],
      [`/v1/accounts/${id}/limits`, { daily_debits_max_minor: 1.5 }],
      [`/v1/accounts/${id}/limits`, { withdrawals_allowed: 'yes' }],
      [`/v1/accounts/${id}/limits`, { no_such_limit: 1 }],
      [`/v1/accounts/${id}/limits`, { transfers_out_per_hour_max: 10_000_000 }],
      ['/v1/admin/review-flags/00000000-0000-4000-8000-000000000000/resolution', { resolution: '' }],
      ['/v1/admin/review-flags/not-a-uuid/resolution', { resolution: 'x' }],
    ];
    for (const [path, body] of bodies) expectProblem(await h.put(path, body, h.compliance), 400, 'validation_error');
    expectProblem(await h.get('/v1/admin/review-flags?status=maybe', h.compliance), 400, 'validation_error');
    expectProblem(await h.put('/v1/accounts/nobody-here/kyc', { tier: 1, reason: 'x' }, h.compliance), 404, 'not_found');
    const unchanged = await h.get(`/v1/accounts/${id}/limits`, h.service);
    expect(unchanged.body).toMatchObject({ kyc_tier: 0, limits: { daily_debits_max_minor: { source: 'tier' } } });
    expect((await h.get(`/v1/accounts/${id}/compliance-actions`, h.compliance)).body.data).toEqual([]);
  });
});
