import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import { startPayoutSimulator, type PayoutSimulator } from '../../tools/payout-simulator/payout-simulator.js';
import { request, startCluster, uniqueId, type ApiResponse } from '../support/cluster.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';
import { expectProblem } from '../support/shop.js';
import { waitFor, walletHarness, type WalletHarness } from '../support/wallet.js';

// Withdrawals through the payout simulator over HTTP (issue 11), on a database of their own: the
// payout jobs of other test files' pods must not claim these.
let h: WalletHarness;
let sim: PayoutSimulator;
let database: ScratchDatabase;
let secret: string;

beforeAll(async () => {
  database = await createScratchDatabase(inject('database_url'), 'payouts');
  sim = await startPayoutSimulator({ callback_urls: [], secret: 'x'.repeat(40), delay_ms: 300 });
  const cluster = await startCluster({
    workers: true,
    env: {
      DATABASE_URL: database.url,
      PAYOUT_PROVIDER_URL: sim.url,
      PAYOUT_WEBHOOK_SECRET: 'x'.repeat(40),
      PAYOUT_RETRY_INTERVAL_MIN_MS: '50',
      PAYOUT_RETRY_INTERVAL_MAX_MS: '200',
      PAYOUT_CALL_ATTEMPTS_MAX: '4',
      WITHDRAWAL_PENDING_TIMEOUT_SECONDS: '2',
      JOB_POLL_INTERVAL_MS: '100',
      WORKER_INTERVAL_MS: '200',
    },
  });
  secret = cluster.config.wallet.payout_webhook_secret;
  h = await walletHarness(cluster, { database_url: database.url });
  sim.setCallbackUrls(h.urls);
});
afterAll(async () => {
  await h?.stop();
  await sim?.close();
  await database?.drop();
});

const destination = (mode = 'instant') => ({ type: 'bank_account', reference: `sim:${mode}:NL00BANK0123456789` });
const withdraw = (account_id: string, amount: number, mode?: string, token = h.service) =>
  h.post('/v1/withdrawals', { account_id, amount, currency: 'EUR', destination: destination(mode) }, token);
const withdrawal = async (id: string) => (await h.get(`/v1/withdrawals/${id}`, h.service)).body;
const settled = (id: string) =>
  waitFor(`withdrawal ${id} settled`, 15_000, async () => {
    const body = await withdrawal(id);
    return body.status === 'PENDING' ? undefined : body;
  });

/** A callback signed by the provider (or by someone with another secret), to any pod. */
function sendEvent(raw: string, options: { secret?: string; timestamp_s?: number; header?: string | null; pod?: number } = {}) {
  const header = signatureHeader(options.secret ?? secret, options.timestamp_s ?? Math.floor(Date.now() / 1000), raw);
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (options.header !== null) headers['Payout-Signature'] = options.header ?? header;
  return request(h.pod(options.pod ?? 0), 'POST', '/v1/payouts/events', undefined, { raw, headers });
}

function payoutEvent(id: string, body: { id: string; amount: number; payout_id: string }, type = 'payout.paid') {
  return JSON.stringify({ id, type, data: { withdrawal_id: body.id, amount: body.amount, currency: 'EUR', payout_id: body.payout_id } });
}

describe('a withdrawal the provider pays', () => {
  it('when it is created, then the money is on @payouts_pending at once, and the signed callback makes it PAID once', async () => {
    const id = await h.openAccount(10_000);
    const player = await h.mint.player(id);
    const created = await h.post(
      '/v1/withdrawals',
      { account_id: id, amount: 2_500, currency: 'EUR', destination: destination(), metadata: { payout_batch: 'june' } },
      player,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ account_id: id, amount: 2_500, status: 'PENDING', metadata: { payout_batch: 'june' } });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 7_500, held: 0, available: 7_500 });

    const paid = await settled(created.body.id);
    expect(paid).toMatchObject({ status: 'PAID', payout_id: sim.payout(created.body.id)!.payout_id, needs_reconciliation: false });
    expect(paid.events.map((event: { outcome: string }) => event.outcome)).toEqual(['paid']);
    expect(sim.payout(created.body.id)!.calls).toBe(1);
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 7_500, held: 0, available: 7_500 });
    const history = await h.history(id);
    expect(history.map((item) => [item.type, item.amount])).toEqual([
      ['withdrawal', -2_500],
      ['credit', 10_000],
    ]);
    expect(history[0]).toMatchObject({ references: { withdrawal_id: created.body.id }, metadata: { payout_batch: 'june' } });
    const listed = await h.get(`/v1/accounts/${id}/withdrawals`, player);
    expect(listed.body.data.map((item: { id: string; status: string }) => [item.id, item.status])).toEqual([[created.body.id, 'PAID']]);
    await h.expectReconcileClean();
  });

  it('when a failed payout returns money to a wallet credited up to its maximum meanwhile, then it comes back all the same', async () => {
    // Pods of their own on the same database, with a small wallet maximum, take the callbacks.
    const capped = await startCluster({
      env: { DATABASE_URL: database.url, PAYOUT_WEBHOOK_SECRET: 'x'.repeat(40), BALANCE_MAX_MINOR: '5000' },
    });
    sim.setCallbackUrls(capped.pods.map((pod) => pod.url));
    try {
      const base = capped.pods[0]!.url;
      const id = await h.openAccount(5_000, { base });
      const created = await withdraw(id, 3_000, 'delayed:fail');
      expect(created.status).toBe(201);
      // Before the provider's payout.failed (300 ms later): the wallet back at its maximum.
      const credit = await request(
        base,
        'POST',
        `/v1/accounts/${id}/credits`,
        { amount: 3_000, currency: 'EUR', reason: 'x' },
        {
          token: h.service,
          key: uniqueId('k'),
        },
      );
      expect(credit.status).toBe(201);
      // Answered 409 before, unrecorded at every retry of the provider: the withdrawal stayed PENDING.
      expect(await settled(created.body.id)).toMatchObject({ status: 'FAILED' });
      expect(await h.wallet(id)).toMatchObject({ balance: 8_000 });
      await h.expectReconcileClean();
    } finally {
      sim.setCallbackUrls(h.urls);
      await capped.stop();
    }
  });

  it('when the provider calls back many times at once, and once more under another event id, then it is paid once', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 1_000, 'duplicated');
    const paid = await settled(created.body.id);
    expect(paid.status).toBe('PAID');
    await waitFor('every callback answered', 5_000, async () => (sim.payout(created.body.id)!.callbacks.length >= 4 ? true : undefined));
    const outcomes = (await withdrawal(created.body.id)).events.map((event: { outcome: string }) => event.outcome).sort();
    expect(outcomes).toEqual(['already_paid', 'paid']);
    const payouts = await h.sql.query("SELECT count(*)::int AS n FROM ledger_transactions WHERE withdrawal_id = $1 AND type = 'payout'", [
      created.body.id,
    ]);
    expect(payouts.rows[0].n).toBe(1);
    await h.expectReconcileClean();
  });

  it('when the callback arrives before the payout call is answered, then it still settles once and the payout is recorded', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 1_200, 'out_of_order');
    const paid = await settled(created.body.id);
    expect(paid).toMatchObject({ status: 'PAID', payout_id: sim.payout(created.body.id)!.payout_id });
    await h.expectReconcileClean();
  });
});

describe('a merchant cashing out', () => {
  it('when a merchant withdraws its revenue, then it goes through the same flow', async () => {
    const id = uniqueId('m');
    expect((await h.post('/v1/accounts', { id, currency: 'EUR', kind: 'merchant', fee_bps: 100 }, h.service)).status).toBe(201);
    expect((await h.post(`/v1/accounts/${id}/credits`, { amount: 5_000, currency: 'EUR', reason: 'sales' }, h.service)).status).toBe(201);
    const created = await withdraw(id, 5_000, 'instant', await h.mint.player(id));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await settled(created.body.id)).status).toBe('PAID');
    expect(await h.wallet(id)).toMatchObject({ balance: 0 });
    await h.expectReconcileClean();
  });
});

describe('a withdrawal that fails', () => {
  it('when the provider reports a failure, then it is FAILED and the money is back in the wallet, once', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 2_000, 'failing');
    const failed = await settled(created.body.id);
    expect(failed).toMatchObject({ status: 'FAILED', failure_reason: 'account closed at the bank' });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 5_000, held: 0, available: 5_000 });
    expect((await h.history(id)).map((item) => item.type)).toEqual(['withdrawal_return', 'withdrawal', 'credit']);

    // A contradicting callback later (paid after failed) is recorded and held for review, never applied.
    expect(await sim.callback(created.body.id, 'payout.paid')).toBe(200);
    const after = await withdrawal(created.body.id);
    expect(after).toMatchObject({ status: 'FAILED', review_reason: expect.stringMatching(/paid out twice/) });
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 });
    const report = await h.reconcile();
    expect(report.mismatches).toEqual([
      expect.objectContaining({ check: 'payout_event_held_for_review', withdrawal_id: created.body.id, outcome: 'contradiction' }),
    ]);
    const log_id = after.review[0].log_id;
    const review = await h.put(`/v1/payouts/events/${log_id}/review`, { settlement: 'provider confirmed: not paid' }, h.admin);
    expect(review.status).toBe(200);
    await h.expectReconcileClean();
  });

  it('when the provider refuses the payout (422), then it fails at once without a callback', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 700, 'refusing');
    const failed = await settled(created.body.id);
    expect(failed).toMatchObject({ status: 'FAILED', failure_reason: expect.stringMatching(/refused it \(422: invalid_destination\)/) });
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 });
    await h.expectReconcileClean();
  });

  it('when the refusal carries text the database refuses, then it still fails at once, without that text', async () => {
    const id = await h.openAccount(5_000);
    // Its reason once failed the refusal's write at every run of the job: the provider was called forever.
    const created = await withdraw(id, 700, 'refusing:garbled');
    const failed = await settled(created.body.id);
    expect(failed).toMatchObject({ status: 'FAILED', failure_reason: 'the payout provider refused it (422)' });
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 });
    await h.expectReconcileClean();
  });

  it('when the provider answers 503 twice, then the same payout is asked again with the same key and paid once', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 900, 'flaky');
    expect((await settled(created.body.id)).status).toBe('PAID');
    expect(sim.payout(created.body.id)!.calls).toBe(3);
    expect(sim.payouts().filter((payout) => payout.withdrawal_id === created.body.id)).toHaveLength(1);
    await h.expectReconcileClean();
  });
  it('when the key is refused at the call after one without an answer: PENDING, flagged, and the callback pays it', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 800, 'resend_refusing');
    const flagged = await waitFor('flagged', 15_000, async () => {
      const body = await withdrawal(created.body.id);
      return body.needs_reconciliation || body.status !== 'PENDING' ? body : undefined;
    });
    // The refusal proves nothing: the provider holds the payout of the first call and pays it.
    expect(flagged).toMatchObject({ status: 'PENDING', needs_reconciliation: true });
    expect(await h.wallet(id)).toMatchObject({ balance: 4_200 });
    const paid = await settled(created.body.id);
    expect(paid).toMatchObject({ status: 'PAID', payout_id: sim.payout(created.body.id)!.payout_id });
    expect(sim.payout(created.body.id)!.calls).toBe(2);
    expect(await h.wallet(id)).toMatchObject({ balance: 4_200 });
    await h.expectReconcileClean();
  });
});

describe('a withdrawal of an account frozen before it is paid', () => {
  it('when frozen, then the provider is not asked until it is unfrozen, and the wait does not count among its attempts', async () => {
    const id = await h.openAccount(5_000);
    // Made while the provider is down and hanging: the job's call, if it comes before the freeze, waits
    // there until the freeze is in and is then an unknown outcome that created nothing, so the job
    // calls at most once before the freeze. Answered at once, it could call again until its attempts
    // ran out; and a call that read the account before the freeze could reach the provider once it was up.
    sim.setDown(true, { hanging: true });
    let withdrawal_id: string;
    try {
      // Once up: 503 twice (unknown outcomes), then paid.
      const created = await withdraw(id, 700, 'flaky');
      expect(created.status).toBe(201);
      withdrawal_id = created.body.id as string;
      expect((await h.post(`/v1/accounts/${id}/freeze`, { reason: 'case 7' }, h.compliance)).status).toBe(200);
      // Still down: the call waiting (or still on its way) gets its 503 now; every later run of the job
      // reads the freeze. Up only once the job has said so: nothing then can reach the provider.
      sim.setDown(true);
      await waitFor('the payout job waiting for the freeze', 15_000, async () => {
        const { rows } = await h.sql.query<{ last_error: string | null }>(
          `SELECT last_error FROM jobs WHERE kind = 'payout' AND subject_id = $1`,
          [withdrawal_id],
        );
        return rows[0]?.last_error?.startsWith('the account is frozen') ? true : undefined;
      });
    } finally {
      sim.setDown(false);
    }
    // Many retry intervals (at most 200 ms here) while frozen: nothing is asked. Beyond
    // WITHDRAWAL_PENDING_TIMEOUT_SECONDS (2) too, yet not flagged: it waits for compliance, not the provider.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(sim.payout(withdrawal_id)).toBeUndefined();
    expect(await withdrawal(withdrawal_id)).toMatchObject({ status: 'PENDING', needs_reconciliation: false });
    expect((await h.post(`/v1/accounts/${id}/unfreeze`, { reason: 'case 7 closed' }, h.compliance)).status).toBe(200);
    // At most one call while down and three now: PAYOUT_CALL_ATTEMPTS_MAX (4). Had each wait counted as
    // an attempt, the first 503 would have been past the last allowed: flagged, never paid.
    expect((await settled(withdrawal_id)).status).toBe('PAID');
    expect(sim.payout(withdrawal_id)!.calls).toBe(3);
    expect(await h.wallet(id)).toMatchObject({ balance: 4_300 });
    await h.expectReconcileClean();
  });
});

describe('a withdrawal the provider never settles', () => {
  it('when no callback comes, then it stays PENDING with its money on @payouts_pending, flagged for reconciliation', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 1_500, 'silent');
    const flagged = await waitFor('flagged', 15_000, async () => {
      const body = await withdrawal(created.body.id);
      return body.needs_reconciliation ? body : undefined;
    });
    expect(flagged).toMatchObject({ status: 'PENDING', payout_id: sim.payout(created.body.id)!.payout_id });
    const report = await h.reconcile();
    expect(report.mismatches).toContainEqual(expect.objectContaining({ check: 'withdrawal_unanswered', withdrawal_id: created.body.id }));
    // The provider answers at last: settled, and reconciliation is clean again.
    expect(await sim.callback(created.body.id, 'payout.paid')).toBe(200);
    expect((await withdrawal(created.body.id)).status).toBe('PAID');
    await h.expectReconcileClean();
  });
});

describe('a withdrawal the provider has, of an account frozen since', () => {
  it('when no callback comes, then it is flagged all the same, and an operator settles it without unfreezing', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 1_200, 'silent');
    await waitFor('the payout job finished', 15_000, async () => {
      const rows = await h.sql.query("SELECT 1 FROM jobs WHERE kind = 'payout' AND subject_id = $1 AND finished_at IS NOT NULL", [
        created.body.id,
      ]);
      return rows.rowCount === 1 ? true : undefined;
    });
    expect((await h.post(`/v1/accounts/${id}/freeze`, { reason: 'fraud review' }, h.compliance)).status).toBe(200);
    const flagged = await waitFor('flagged', 15_000, async () => {
      const body = await withdrawal(created.body.id);
      return body.needs_reconciliation ? body : undefined;
    });
    expect(flagged).toMatchObject({ status: 'PENDING', payout_id: sim.payout(created.body.id)!.payout_id });
    const settled = await h.post(`/v1/withdrawals/${created.body.id}/settle`, { status: 'FAILED', settlement: 'bank: rejected' }, h.admin);
    expect(settled.status, settled.text).toBe(200);
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 });
    expect((await h.get(`/v1/accounts/${id}`, h.service)).body).toMatchObject({ status: 'frozen' });
    await h.expectReconcileClean();
  });
});

describe('a withdrawal settled by hand', () => {
  it('when an operator settles a flagged withdrawal, then once, as the callback would; a contradicting callback is held', async () => {
    const id = await h.openAccount(5_000);
    const settle = (withdrawal_id: string, body: Record<string, unknown>, options: { key?: string; token?: string } = {}) =>
      h.post(`/v1/withdrawals/${withdrawal_id}/settle`, body, options.token ?? h.admin, { key: options.key });
    const flagged = async (amount: number) => {
      const created = await withdraw(id, amount, 'silent');
      // Until it is flagged its payout job or the provider settles it: a guess could pay it twice.
      expectProblem(await settle(created.body.id, { status: 'FAILED', settlement: 'too early' }), 409, 'invalid_state');
      return waitFor('flagged', 15_000, async () => {
        const body = await withdrawal(created.body.id);
        return body.needs_reconciliation && body.payout_id ? body : undefined;
      });
    };

    const returned = await flagged(1_000);
    expectProblem(await settle(returned.id, { status: 'FAILED', settlement: 'x' }, { token: await h.mint.player(id) }), 403, 'forbidden');
    expectProblem(await settle(returned.id, { status: 'REVERSED', settlement: 'x' }), 400, 'validation_error');
    expectProblem(await settle(returned.id, { status: 'FAILED', settlement: 'nul \u0000 byte' }), 400, 'validation_error');
    expectProblem(await settle(returned.id, { status: 'FAILED', settlement: 'x'.repeat(1001) }), 400, 'validation_error');
    expectProblem(await settle(returned.id, { status: 'FAILED', settlement: 'x', payout_id: 'po_other' }), 409, 'invalid_state');
    // Flagged by the pending timeout while its payout job has yet to finish (it may be calling the provider): refused.
    const job = "UPDATE jobs SET finished_at = $2, run_after = now() + interval '1 hour' WHERE kind = 'payout' AND subject_id = $1";
    await h.sql.query(job, [returned.id, null]);
    expectProblem(await settle(returned.id, { status: 'FAILED', settlement: 'job running' }), 409, 'invalid_state');
    await h.sql.query(job, [returned.id, new Date()]);
    const key = uniqueId('k');
    const note = { status: 'FAILED', settlement: 'provider ticket 42: never sent' };
    const failed = await settle(returned.id, note, { key });
    expect(failed.status, failed.text).toBe(200);
    expect(failed.body).toMatchObject({
      status: 'FAILED',
      needs_reconciliation: false,
      failure_reason: `settled by ops: ${note.settlement}`,
    });
    expect((await settle(returned.id, note, { key })).text).toBe(failed.text);
    expectProblem(await settle(returned.id, note), 409, 'invalid_state');
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 });
    // The provider pays it after all: recorded, held for a person, never applied.
    expect(await sim.callback(returned.id, 'payout.paid')).toBe(200);
    const [held] = (await withdrawal(returned.id)).review;
    expect(held).toMatchObject({ outcome: 'contradiction' });
    const recovered = { settlement: 'recovered from the bank' };
    const review = await h.put(`/v1/payouts/events/${held.log_id}/review`, recovered, h.admin);
    expect(review.body).toMatchObject({ settlement: recovered.settlement, settled_by: 'service:ops', settled_at: expect.any(String) });
    // Settled once: the same note again is that settlement (a retried PUT); another note does not replace it.
    expect((await h.put(`/v1/payouts/events/${held.log_id}/review`, recovered, h.admin)).body).toEqual(review.body);
    const other = await h.put(`/v1/payouts/events/${held.log_id}/review`, { settlement: 'never mind' }, h.admin);
    expectProblem(other, 409, 'invalid_state');
    expect(other.body.detail).toContain('service:ops');

    const paid = await flagged(600);
    const settled = await settle(paid.id, { status: 'PAID', settlement: 'provider statement of June', payout_id: paid.payout_id });
    expect(settled.body).toMatchObject({ status: 'PAID', payout_id: paid.payout_id, failure_reason: null });
    expect(await sim.callback(paid.id, 'payout.paid')).toBe(200);
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 - 600 });
    await h.expectReconcileClean();
  });
});

describe('callbacks', () => {
  it('when the same callback is delivered 12 times at once to three pods, then it is applied once', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 1_000, 'silent');
    await waitFor('payout accepted', 10_000, async () => ((await withdrawal(created.body.id)).payout_id ? true : undefined));
    const body = payoutEvent(`evt_${created.body.id}`, { ...created.body, payout_id: sim.payout(created.body.id)!.payout_id });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => sendEvent(body, { pod: i })));
    expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(200));
    // Each gets the first answer (SPEC §1.3); the log has the callback once, the wallet paid out once.
    expect(new Set(answers.map((answer) => answer.text))).toEqual(new Set(['{"received":true,"outcome":"paid"}']));
    expect((await withdrawal(created.body.id)).events).toHaveLength(1);
    expect(await h.wallet(id)).toMatchObject({ balance: 4_000 });
    await h.expectReconcileClean();
  });

  it('when a callback sends optional fields as null, a long reason or a failure without payout id, then it is applied', async () => {
    const id = await h.openAccount(5_000);
    const silent = async (amount: number) => {
      const created = await withdraw(id, amount, 'silent');
      return waitFor('payout accepted', 10_000, async () => {
        const body = await withdrawal(created.body.id);
        return body.payout_id ? body : undefined;
      });
    };
    const send = (type: string, body: { id: string; amount: number }, data: Record<string, unknown>) =>
      sendEvent(
        JSON.stringify({ id: uniqueId('evt'), type, data: { withdrawal_id: body.id, amount: body.amount, currency: 'EUR', ...data } }),
      );

    const nulls = await silent(100);
    expect((await send('payout.failed', nulls, { payout_id: null, failure_reason: null })).body.outcome).toBe('failed');
    expect(await withdrawal(nulls.id)).toMatchObject({ status: 'FAILED', failure_reason: 'the payout provider reported a failure' });

    const long = await silent(200);
    expect((await send('payout.failed', long, { payout_id: '', failure_reason: 'r'.repeat(900) })).body.outcome).toBe('failed');
    const reason: string = (await withdrawal(long.id)).failure_reason;
    expect([reason.length, reason.endsWith('r…')]).toEqual([500, true]);

    // A payment must name its payout: without one it proves nothing, and is held; with it, paid.
    const paid = await silent(300);
    expect((await send('payout.paid', paid, { failure_reason: null })).body.outcome).toBe('malformed');
    expect((await send('payout.paid', paid, { payout_id: paid.payout_id, failure_reason: null })).body.outcome).toBe('paid');
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 - 300 });
    const [held] = (await withdrawal(paid.id)).review;
    expect((await h.put(`/v1/payouts/events/${held.log_id}/review`, { settlement: 'paid later with its id' }, h.admin)).status).toBe(200);
    await h.expectReconcileClean();
  });

  it('when the provider writes our id in capitals, then it names that withdrawal; redelivered in lower case, a repeat', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 1_000, 'silent');
    await waitFor('payout accepted', 10_000, async () => ((await withdrawal(created.body.id)).payout_id ? true : undefined));
    const paid = { ...created.body, payout_id: sim.payout(created.body.id)!.payout_id };
    const shouted = await sendEvent(payoutEvent(`evt_${created.body.id}`, { ...paid, id: created.body.id.toUpperCase() }));
    expect(shouted.body).toEqual({ received: true, outcome: 'paid' });
    expect((await sendEvent(payoutEvent(`evt_${created.body.id}`, paid), { pod: 1 })).body).toEqual({ received: true, outcome: 'paid' });
    expect((await withdrawal(created.body.id)).events).toHaveLength(1);
    expect(await h.wallet(id)).toMatchObject({ balance: 4_000 });
    await h.expectReconcileClean();
  });

  it('when a callback is forged, tampered, stale or unsigned, then 401 and nothing changes or is recorded', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 800, 'silent');
    await waitFor('payout accepted', 10_000, async () => ((await withdrawal(created.body.id)).payout_id ? true : undefined));
    const body = payoutEvent('evt_forged', { ...created.body, payout_id: sim.payout(created.body.id)!.payout_id }, 'payout.failed');
    const attempts: ApiResponse[] = [
      await sendEvent(body, { secret: 'y'.repeat(40) }),
      await sendEvent(body, { header: signatureHeader(secret, Math.floor(Date.now() / 1000), `${body} `) }),
      await sendEvent(body, { timestamp_s: Math.floor(Date.now() / 1000) - 3600 }),
      await sendEvent(body, { header: null }),
      await sendEvent(body, { header: 't=abc,v1=def' }),
    ];
    for (const attempt of attempts) expectProblem(attempt, 401, 'unauthenticated');
    expect(await withdrawal(created.body.id)).toMatchObject({ status: 'PENDING', events: [] });
    expect((await h.sql.query("SELECT count(*)::int AS n FROM payout_events WHERE id = 'evt_forged'")).rows[0].n).toBe(0);
    expect(await h.wallet(id)).toMatchObject({ balance: 4_200 });
    // Settled, so that it is not an unanswered withdrawal (WITHDRAWAL_PENDING_TIMEOUT_SECONDS) in
    // the reconciliation of the tests after this one.
    expect(await sim.callback(created.body.id, 'payout.paid')).toBe(200);
  });

  it('when a signed body is malformed, names no withdrawal, reuses an id or disagrees on the amount: held for review', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 600, 'silent');
    await waitFor('payout accepted', 10_000, async () => ((await withdrawal(created.body.id)).payout_id ? true : undefined));
    const payout_id = sim.payout(created.body.id)!.payout_id;
    const outcomes = [];
    outcomes.push((await sendEvent('{"id": "evt_half', {})).body.outcome);
    outcomes.push(
      (await sendEvent(payoutEvent(`evt_ghost_${id}`, { id: '00000000-0000-4000-8000-000000000000', amount: 600, payout_id }))).body
        .outcome,
    );
    outcomes.push((await sendEvent(payoutEvent(`evt_amount_${id}`, { id: created.body.id, amount: 601, payout_id }))).body.outcome);
    outcomes.push(
      (await sendEvent(payoutEvent(`evt_payout_${id}`, { id: created.body.id, amount: 600, payout_id: 'po_other' }))).body.outcome,
    );
    outcomes.push((await sendEvent(payoutEvent(`evt_amount_${id}`, { id: created.body.id, amount: 600, payout_id }))).body.outcome);
    expect(outcomes).toEqual(['malformed', 'unknown_withdrawal', 'amount_mismatch', 'payout_mismatch', 'conflict']);
    const after = await withdrawal(created.body.id);
    expect(after.status).toBe('PENDING');
    expect(after.review.map((item: { outcome: string }) => item.outcome).sort()).toEqual([
      'amount_mismatch',
      'conflict',
      'payout_mismatch',
    ]);
    const held = (await h.reconcile()).mismatches.filter((mismatch) => mismatch.check === 'payout_event_held_for_review');
    expect(held.length).toBeGreaterThanOrEqual(5);
    for (const mismatch of held) {
      expect(
        (await h.put(`/v1/payouts/events/${encodeURIComponent(mismatch.log_id as string)}/review`, { settlement: 'checked' }, h.admin))
          .status,
      ).toBe(200);
    }
    expect((await sim.callback(created.body.id, 'payout.paid')) === 200).toBe(true);
    await h.expectReconcileClean();
  });
});

describe('a provider that calls back without end', () => {
  it('when 104 callbacks are held for one withdrawal, then its GET and its withdrawal.paid event show the same 100', async () => {
    const id = await h.openAccount(5_000);
    const created = await withdraw(id, 700, 'silent');
    await waitFor('payout accepted', 10_000, async () => ((await withdrawal(created.body.id)).payout_id ? true : undefined));
    const payout_id = sim.payout(created.body.id)!.payout_id;
    for (let start = 0; start < 104; start += 8) {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, offset) =>
          sendEvent(payoutEvent(`evt_many_${start + offset}_${id}`, { id: created.body.id, amount: 701, payout_id }), {
            pod: offset % 3,
          }),
        ),
      );
      expect(answers.map((answer) => answer.body.outcome)).toEqual(Array(8).fill('amount_mismatch'));
    }
    expect(await sim.callback(created.body.id, 'payout.paid')).toBe(200);
    const paid = await withdrawal(created.body.id);
    expect(paid.status).toBe('PAID');
    expect(paid.events).toHaveLength(100);
    const stored = await h.sql.query("SELECT data_json FROM events WHERE type = 'withdrawal.paid' AND account_id = $1", [id]);
    expect(stored.rows).toHaveLength(1);
    expect(JSON.parse(stored.rows[0].data_json).events).toEqual(paid.events);
    const held = (await h.reconcile()).mismatches.filter((mismatch) => mismatch.check === 'payout_event_held_for_review');
    for (const mismatch of held) {
      const log_id = encodeURIComponent(mismatch.log_id as string);
      expect((await h.put(`/v1/payouts/events/${log_id}/review`, { settlement: 'checked' }, h.admin)).status).toBe(200);
    }
    await h.expectReconcileClean();
  });
});

describe('rules and bad input', () => {
  it('when a withdrawal is malformed, over the balance, without a wallet or for someone else: refused, nothing moves', async () => {
    const id = await h.openAccount(1_000);
    const other = await h.openAccount(1_000);
    const player = await h.mint.player(id);
    const good = { account_id: id, amount: 100, currency: 'EUR', destination: destination('silent') };
    const bad: unknown[] = [
      { ...good, amount: 0 },
      { ...good, amount: '100' },
      { ...good, currency: 'XXX' },
      { ...good, destination: undefined },
      { ...good, destination: { type: 'bank_account' } },
      { ...good, destination: { type: 'Bank Account', reference: 'x' } },
      { ...good, destination: { type: 'bank_account', reference: '' } },
      { ...good, destination: { ...good.destination, iban: 'x' } },
      { ...good, metadata: { 'bad key': 'x' } },
      { ...good, metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) },
      { ...good, metadata: { k: 'v'.repeat(501) } },
      { ...good, metadata: { k: 1 } },
      { ...good, extra: true },
    ];
    for (const body of bad) expectProblem(await h.post('/v1/withdrawals', body, h.service), 400, 'validation_error');
    expectProblem(await h.post('/v1/withdrawals', { ...good, amount: 1_001 }, player), 409, 'insufficient_funds');
    expectProblem(await h.post('/v1/withdrawals', { ...good, currency: 'USD' }, player), 422, 'currency_mismatch');
    expectProblem(await h.post('/v1/withdrawals', { ...good, account_id: other }, player), 404, 'not_found');
    expectProblem(await h.post('/v1/withdrawals', good, await h.mint.service('accounts:write', 'x')), 403, 'forbidden');
    expectProblem(await h.post('/v1/withdrawals', good, h.service, { key: '' }), 400, 'idempotency_key_required');
    expectProblem(await h.get('/v1/withdrawals/not-a-uuid', h.service), 400, 'validation_error');
    expectProblem(await h.get('/v1/withdrawals/00000000-0000-4000-8000-000000000000', h.service), 404, 'not_found');
    expect(await h.wallet(id)).toMatchObject({ balance: 1_000 });
    expect((await h.get(`/v1/accounts/${id}/withdrawals`, h.service)).body.data).toEqual([]);
  });

  it('when a payout review is settled by a non-admin, without a note, for no event or one not held, then refused', async () => {
    const id = await h.openAccount(1_000);
    const created = await withdraw(id, 100, 'instant');
    const paid = await settled(created.body.id);
    const log_id = paid.events[0].log_id;
    expectProblem(await h.put(`/v1/payouts/events/${log_id}/review`, { settlement: 'x' }, h.service), 403, 'forbidden');
    expectProblem(await h.put(`/v1/payouts/events/${log_id}/review`, { settlement: '' }, h.admin), 400, 'validation_error');
    expectProblem(await h.put(`/v1/payouts/events/${log_id}/review`, { note: 'x' }, h.admin), 400, 'validation_error');
    expectProblem(await h.put('/v1/payouts/events/evt_nothing/review', { settlement: 'x' }, h.admin), 404, 'not_found');
    expectProblem(await h.put(`/v1/payouts/events/${log_id}/review`, { settlement: 'x' }, h.admin), 409, 'invalid_state');
  });

  it('when an account has a pending withdrawal, then it cannot close until it is settled', async () => {
    const id = await h.openAccount(1_000);
    const created = await withdraw(id, 1_000, 'silent');
    expect(created.status).toBe(201);
    const refused = await h.post(`/v1/accounts/${id}/close`, {}, h.compliance);
    expectProblem(refused, 409, 'invalid_state');
    expect(refused.body.reasons).toEqual(['1 withdrawal(s) are pending']);
    await waitFor('payout accepted', 10_000, async () => ((await withdrawal(created.body.id)).payout_id ? true : undefined));
    expect(await sim.callback(created.body.id, 'payout.paid')).toBe(200);
    expect((await h.post(`/v1/accounts/${id}/close`, {}, h.compliance)).status).toBe(200);
  });
});
