import Joi from 'joi';
import type { Unit } from '../batch/unit.js';
import { unionMembers, viewSchema } from '../platform/view-schema.js';
import { DomainError } from '../domain/errors.js';
import type { LedgerLimits } from '../ledger/posting.js';
import type { AppDeps } from '../platform/deps.js';
import { verifySignature, type SignedBody } from '../shop/topups/psp-signature.js';
import { bodyKey, conflictEntry, isSameDelivery, malformedEntry, repeatedEntry } from '../webhooks/signed-delivery.js';
import { failureReasonOf, readPayoutDelivery, type PayoutDelivery } from './payout-event.js';
import { settleWithdrawal } from './withdrawal-book.js';
import { findPayoutEvent, findWithdrawal } from './withdrawal-reads.js';
import { PAYOUT_EVENTS, WITHDRAWALS, type PayoutEventRecord } from './withdrawal-records.js';
import { decidePayoutEvent, type PayoutOutcome } from './withdrawal-state-machine.js';

export type PayoutEventOutcome = PayoutOutcome | 'conflict' | 'malformed' | 'unknown_withdrawal';

export const payoutEventReceiptSchema = viewSchema('PayoutEventReceipt', {
  received: Joi.valid(true),
  outcome: Joi.string().valid(
    ...unionMembers<PayoutEventOutcome>({
      paid: true,
      failed: true,
      already_paid: true,
      already_failed: true,
      contradiction: true,
      amount_mismatch: true,
      payout_mismatch: true,
      conflict: true,
      malformed: true,
      unknown_withdrawal: true,
    }),
  ),
});

type Receipt =
  | { kind: 'new' }
  | { kind: 'repeated'; event: PayoutEventRecord }
  | { kind: 'conflict'; key: string; recorded: PayoutEventRecord };

/**
 * A payout provider's callback (POST /v1/payouts/events). Only a valid Payout-Signature over the
 * raw body gets in; from then on the answer is 200, whatever the body says. Every delivery is
 * recorded once in the payout event log, in the same batch as its effect, so however callbacks
 * repeat, race or arrive out of order a withdrawal is settled once: a redelivery changes nothing,
 * and an id reused with another body, a malformed body, an unknown withdrawal or an answer that
 * cannot be applied (payout_events held for review) is recorded and never applied.
 */
export async function receivePayoutEvent(deps: AppDeps, body: SignedBody, signature_header: string) {
  const { wallet } = deps.config;
  const now_s = Math.floor(Date.now() / 1000);
  const raw_body = body.text;
  const check = verifySignature(
    signature_header,
    body.bytes,
    [wallet.payout_webhook_secret],
    now_s,
    wallet.payout_signature_tolerance_seconds,
    'Payout-Signature',
  );
  if (!check.ok) throw new DomainError('unauthenticated', check.reason);
  const delivery = readPayoutDelivery(raw_body, wallet.payout_event_depth_max);
  const subject_id = delivery.kind === 'event' ? delivery.event.data.withdrawal_id : delivery.subject_id;
  // Looked up before the batch, only to spare it known duplicates and to know the withdrawal's
  // account and region; the batch decides on the log and the withdrawal as it reads them.
  const known = await deps.transactions.read(async (tx) => ({
    logged: await findPayoutEvent(tx, delivery.key),
    withdrawal: subject_id === null ? undefined : await findWithdrawal(tx, subject_id),
  }));
  if (known.logged && isSameDelivery(known.logged, delivery)) return answered(deps, known.logged.outcome, false);
  const { withdrawal } = known;
  const recorded = await deps.writes.run({
    name: 'payout_event',
    region: withdrawal?.region ?? deps.region,
    needs: {
      accounts: withdrawal ? [withdrawal.account_id] : [],
      withdrawals: withdrawal ? [withdrawal.id] : [],
      payout_events: [delivery.key, bodyKey(raw_body)],
    },
    decide: (unit) => recordDelivery(unit, delivery, deps.region, deps.config.limits),
  });
  if (recorded.first && recorded.event.review_reason) {
    const { id, outcome, review_reason } = recorded.event;
    deps.logger.warn({ event_id: id, outcome, reason: review_reason }, 'payout event held for review');
  }
  return answered(deps, recorded.event.outcome, recorded.first);
}

/** The answer to a delivery: a redelivery gets the first one's outcome (SPEC §1.3), counted as a duplicate. */
function answered(deps: AppDeps, outcome: string, first: boolean) {
  deps.metrics.payout_events_total.inc({ outcome: first ? outcome : 'duplicate' });
  return { received: true as const, outcome: outcome as PayoutEventOutcome };
}

function classify(unit: Unit, delivery: PayoutDelivery): Receipt {
  const log = unit.table(PAYOUT_EVENTS);
  const repeated = repeatedEntry((key) => log.get(key), delivery);
  if (repeated) return { kind: 'repeated', event: repeated };
  const recorded = log.get(delivery.key);
  return recorded ? { kind: 'conflict', key: bodyKey(delivery.raw_body), recorded } : { kind: 'new' };
}

/** Records the delivery in the log with what it came to, and applies it if it settles its withdrawal; a repeat changes nothing. */
function recordDelivery(
  unit: Unit,
  delivery: PayoutDelivery,
  pod_region: string,
  limits: LedgerLimits,
): { event: PayoutEventRecord; first: boolean } {
  const receipt = classify(unit, delivery);
  if (receipt.kind === 'repeated') return { event: receipt.event, first: false };
  return { event: recordFirst(unit, delivery, receipt, pod_region, limits), first: true };
}

function recordFirst(
  unit: Unit,
  delivery: PayoutDelivery,
  receipt: Exclude<Receipt, { kind: 'repeated' }>,
  pod_region: string,
  limits: LedgerLimits,
): PayoutEventRecord {
  const received = { review_settled_at: null, review_settlement: null, review_settled_by: null, received_at: unit.now };
  if (receipt.kind === 'conflict') {
    const { withdrawal_id, region } = receipt.recorded;
    return unit.table(PAYOUT_EVENTS).insert({ ...received, ...conflictEntry(delivery, receipt.key), withdrawal_id, region });
  }
  if (delivery.kind === 'malformed') {
    const withdrawal = delivery.subject_id === null ? undefined : unit.table(WITHDRAWALS).get(delivery.subject_id);
    const region = withdrawal?.region ?? pod_region;
    return unit.table(PAYOUT_EVENTS).insert({ ...received, ...malformedEntry(delivery), withdrawal_id: delivery.subject_id, region });
  }
  const { event } = delivery;
  const withdrawal = unit.table(WITHDRAWALS).get(event.data.withdrawal_id);
  const logged = { ...received, id: event.id, type: event.type, withdrawal_id: event.data.withdrawal_id, payload: delivery.payload };
  if (!withdrawal) {
    const review_reason = `no withdrawal ${event.data.withdrawal_id}`;
    return unit
      .table(PAYOUT_EVENTS)
      .insert({ ...logged, body_base64: null, outcome: 'unknown_withdrawal', review_reason, conflicts_with: null, region: pod_region });
  }
  const decision = decidePayoutEvent(withdrawal, event);
  // Logged before the settlement, so that the withdrawal's event shows this callback as its GET will.
  const record = unit.table(PAYOUT_EVENTS).insert({
    ...logged,
    body_base64: null,
    outcome: decision.outcome,
    review_reason: decision.review_reason,
    conflicts_with: null,
    region: withdrawal.region,
  });
  if (decision.settle) {
    const reason = decision.settle === 'FAILED' ? failureReasonOf(event) : null;
    settleWithdrawal(unit, withdrawal, { status: decision.settle, payout_id: event.data.payout_id || null, reason }, limits);
  }
  return record;
}
