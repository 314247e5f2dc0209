import { findAccount } from '../accounts/account-repository.js';
import { backoffDelayMs } from '../platform/backoff.js';
import type { AppDeps } from '../platform/deps.js';
import type { JobLease } from '../sellers/jobs/job-lease.js';
import type { OutboundAgents } from '../sellers/client/http-call.js';
import { finishJob, releaseJob } from '../sellers/jobs/job-queue.js';
import { requestPayout } from './payout-client.js';
import { recordPayout, requireWithdrawal, settleWithdrawal } from './withdrawal-book.js';
import { flagForReconciliation } from './flag-unanswered-withdrawals.js';
import { findWithdrawal } from './withdrawal-reads.js';
import type { WithdrawalRecord } from './withdrawal-records.js';

export type PayoutDeps = Omit<AppDeps, 'sellers' | 'payouts'>;

/**
 * The durable payout job of a withdrawal, under its lease, in any pod: asks the provider to pay
 * it (outside any transaction, with the withdrawal id as Idempotency-Key) and records what it
 * learnt in a batched operation. A job resumed after a crash between the call and its record
 * asks again with the same key and gets the same payout. An unknown outcome is asked again
 * after a doubling pause, PAYOUT_CALL_ATTEMPTS_MAX times at most; then the withdrawal stays
 * PENDING (its money on @payouts_pending) and is flagged for reconciliation: never failed on a guess.
 * A refusal fails the withdrawal only at the first call: after an unknown outcome it is flagged too.
 * While the account is frozen the job waits, checking again every PAYOUT_RETRY_INTERVAL_MAX_MS.
 */
export async function runPayout(deps: PayoutDeps, agents: OutboundAgents, lease: JobLease): Promise<void> {
  const { job } = lease;
  const { wallet } = deps.config;
  // The lease is made long enough for the call first (it may take a write), so that the account's
  // status is read as late as can be before the call.
  const timeout_ms = Math.min(wallet.payout_call_timeout_ms, (await lease.callDeadlineMs(wallet.payout_call_timeout_ms)) - Date.now());
  const { withdrawal, account } = await deps.transactions.read(async (tx) => {
    const found = await findWithdrawal(tx, job.subject_id);
    return { withdrawal: found, account: found && (await findAccount(tx, found.account_id)) };
  });
  if (withdrawal?.status !== 'PENDING' || withdrawal.payout_id !== null) {
    await finishJob(deps, job);
    return;
  }
  if (account?.status === 'frozen') {
    // Nothing leaves a frozen account (SPEC §10): the provider is not asked while it is frozen, even
    // again after an unknown outcome (that would pay a payout it may not have); a payout it has is
    // settled by its callback. A freeze committed after this read, during the call, cannot stop it.
    await releaseJob(deps, job, 'the account is frozen: the payout waits', wallet.payout_retry_interval_max_ms, false);
    return;
  }
  const answer = timeout_ms > 0 ? await requestPayout(deps, agents, withdrawal, timeout_ms, lease.signal) : undefined;
  if (answer?.kind === 'accepted') {
    await settle(deps, withdrawal, 'record_payout', (unit) => recordPayout(unit, requireWithdrawal(unit, withdrawal.id), answer));
  } else if (answer?.kind === 'refused' && job.claims > 1) {
    // An earlier run called and got no answer (or died calling): the provider may hold that payout,
    // and a refusal of the same key again (some providers refuse a key they have seen) proves
    // nothing. Failing it would return money that may be paid out: a signed callback or a person decides.
    deps.logger.warn({ withdrawal_id: withdrawal.id, reason: answer.reason }, 'payout refused after an unknown outcome; flagged');
    await deps.transactions.run('flag_unanswered_withdrawal', (tx) => flagForReconciliation(tx, withdrawal.id));
    await finishJob(deps, job, `${answer.reason}, after ${job.claims - 1} call(s) of unknown outcome: it may exist`);
    return;
  } else if (answer?.kind === 'refused') {
    await settle(deps, withdrawal, 'refused_payout', (unit) => {
      const current = requireWithdrawal(unit, withdrawal.id);
      if (current.status === 'PENDING')
        settleWithdrawal(unit, current, { status: 'FAILED', payout_id: null, reason: answer.reason }, deps.config.limits);
    });
  } else {
    const reason = answer?.reason ?? 'the lease left no time for the call';
    if (job.claims < wallet.payout_call_attempts_max) {
      const delay_ms = backoffDelayMs(job.claims, {
        initial_ms: wallet.payout_retry_interval_min_ms,
        max_ms: wallet.payout_retry_interval_max_ms,
      });
      await releaseJob(deps, job, reason, delay_ms);
      return;
    }
    deps.logger.warn(
      { withdrawal_id: withdrawal.id, reason },
      'payout outcome still unknown after the last attempt; flagged for reconciliation',
    );
    await deps.transactions.run('flag_unanswered_withdrawal', (tx) => flagForReconciliation(tx, withdrawal.id));
    await finishJob(deps, job, `gave up after ${job.claims} calls: ${reason}`);
    return;
  }
  await finishJob(deps, job);
}

function settle(
  deps: PayoutDeps,
  withdrawal: WithdrawalRecord,
  name: string,
  decide: Parameters<PayoutDeps['writes']['run']>[0]['decide'],
) {
  return deps.writes.run({
    name,
    region: withdrawal.region,
    needs: { accounts: [withdrawal.account_id], withdrawals: [withdrawal.id] },
    decide,
  });
}
