import Joi from 'joi';
import type { Actor } from '../../auth/tokens.js';
import type { Unit } from '../../batch/unit.js';
import { changeStatusIn } from '../../compliance/change-account-status.js';
import { DomainError, invariant } from '../../domain/errors.js';
import { walletKey } from '../../ledger/ledger-records.js';
import { postTransaction } from '../../ledger/posting.js';
import type { AppDeps } from '../../platform/deps.js';
import { unionMembers, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import { emitEvent } from '../../events/emit.js';
import type { EventType } from '../../events/event-types.js';
import { findPspEvent, recordedTopupEvent, type NewPspEvent } from './psp-event-repository.js';
import { bodyBase64, conflictEntry, repeatedEntry, type DeliveredBody, type MalformedDelivery } from '../../webhooks/signed-delivery.js';
import { bodyKey, isSameDelivery, readPspDelivery, type PspDelivery, type RecordedDelivery } from './psp-event.js';
import { verifySignature, type SignedBody } from './psp-signature.js';
import { PSP_EVENTS, TOPUP_LOG, TOPUPS } from './topup-records.js';
import { findTopup, topupEventData, type Topup } from './topup-repository.js';
import { decideTopupEvent, type Decision, type MachineOutcome, type PspEvent } from './topup-state-machine.js';

/**
 * What a delivery came to. Besides the state machine's outcomes: `conflict`, `malformed`,
 * `unknown_topup` and `provider_mismatch` are held for review; `ignored_type` (an event type creditshop does not act on)
 * and `unrelated` (a payment that is no creditshop top-up) are recorded and need nobody.
 */
export type EventOutcome = MachineOutcome | 'conflict' | 'malformed' | 'unknown_topup' | 'provider_mismatch' | 'ignored_type' | 'unrelated';

export const pspEventReceiptSchema = viewSchema('PspEventReceipt', {
  received: Joi.valid(true),
  outcome: Joi.string().valid(
    ...unionMembers<EventOutcome>({
      credited: true,
      failed: true,
      reversed: true,
      reversal_waiting: true,
      superseded: true,
      ignored_state: true,
      duplicate: true,
      amount_mismatch: true,
      held_for_review: true,
      conflict: true,
      malformed: true,
      unknown_topup: true,
      provider_mismatch: true,
      ignored_type: true,
      unrelated: true,
    }),
  ),
} satisfies ViewKeys<Awaited<ReturnType<typeof receivePspEvent>>>);

/** A row of the event log with what the delivery came to. */
type EventRecord = NewPspEvent & { outcome: EventOutcome };

/** What a delivery means for its top-up: an event for the state machine, or an outcome recorded as is. */
export type Meaning = { event: PspEvent } | { outcome: EventOutcome; review_reason: string | null };

/** A validly signed delivery of any PSP format, as the event log records it. */
export interface LoggedDelivery extends DeliveredBody {
  /** The top-up it names, if any: its account is locked and the top-up read for the batch. */
  topup_id: string | null;
  /** Decided in the batch, on the top-up as it stands there (undefined when there is none). */
  meaning(topup: Topup | undefined): Meaning;
}

/**
 * A PSP callback. Only a valid signature over the raw body gets in; from then on the answer is
 * 200, whatever the body says. Every delivery is recorded once in the event log (psp_events), in
 * the same transaction as its effect: a redelivery changes nothing; an id reused with another
 * body, a malformed body, an unknown top-up or anything the state machine cannot apply is
 * recorded and held for review (the top-up shows it, reconciliation counts it).
 */
export async function receivePspEvent(
  deps: AppDeps,
  body: SignedBody,
  signature_header: string,
): Promise<{ received: true; outcome: EventOutcome }> {
  const check = verifySignature(
    signature_header,
    body.bytes,
    [deps.config.psp_webhook_secret],
    Math.floor(Date.now() / 1000),
    deps.config.psp_signature_tolerance_seconds,
  );
  if (!check.ok) throw new DomainError('unauthenticated', check.reason);
  return receiveDelivery(deps, loggedPspDelivery(readPspDelivery(body.text, deps.config.psp_event_depth_max)));
}

/** The generic format: an event names its top-up, which must exist. */
function loggedPspDelivery(delivery: PspDelivery): LoggedDelivery {
  if (delivery.kind === 'malformed') return loggedMalformed(delivery);
  const { key, event, payload, raw_body } = delivery;
  const topup_id = event.data.topup_id;
  const meaning = (topup: Topup | undefined): Meaning => {
    if (!topup) return { outcome: 'unknown_topup', review_reason: `no top-up ${topup_id}` };
    return topup.psp_provider === 'generic' ? { event } : notPaidThere(topup, 'the PSP of /v1/psp/events');
  };
  return { kind: 'event', key, type: event.type, topup_id, payload, raw_body, meaning };
}

/**
 * An event about a top-up paid through another provider: a provider proves only its own payments
 * (a Stripe event named a top-up of the generic PSP, and credited it). Held, on the top-up.
 */
export function notPaidThere(topup: Topup, provider: string): Meaning {
  return { outcome: 'provider_mismatch', review_reason: `top-up ${topup.id} is paid through ${topup.psp_provider}, not ${provider}` };
}

/** A signed body of any format that is no event: held for review, with why. */
export function loggedMalformed(delivery: MalformedDelivery): LoggedDelivery {
  const { kind, key, type, subject_id: topup_id, payload, raw_body, reason } = delivery;
  return { kind, key, type, topup_id, payload, raw_body, meaning: () => ({ outcome: 'malformed', review_reason: reason }) };
}

/**
 * Records a validly signed delivery once, applying what it means to its top-up in the same batch.
 * A redelivery is answered with the first delivery's outcome (SPEC §1.3), counted as a duplicate.
 */
export async function receiveDelivery(deps: AppDeps, delivery: LoggedDelivery): Promise<{ received: true; outcome: EventOutcome }> {
  const { outcome, first } = await receive(deps, delivery);
  deps.metrics.psp_events_total.inc({ outcome: first ? outcome : 'duplicate' });
  return { received: true, outcome };
}

/** What a delivery came to, whether this delivery is the one that did it, and why it is held if it is. */
interface Receipt {
  outcome: EventOutcome;
  first: boolean;
  held?: { event_id: string; reason: string };
}

async function receive(deps: AppDeps, delivery: LoggedDelivery): Promise<Receipt> {
  const { topup_id } = delivery;
  // A redelivery of a recorded event is answered without a batch; otherwise the top-up is looked
  // up to know whose wallet the event may move (the batcher, the account to lock).
  const known = await deps.transactions.read(async (tx) => ({
    recorded: await findPspEvent(tx, delivery.key),
    topup: topup_id === null ? undefined : await findTopup(tx, topup_id),
  }));
  if (known.recorded && isSameDelivery(known.recorded, delivery)) return { outcome: known.recorded.outcome as EventOutcome, first: false };
  const receipt = await deps.writes.run({
    name: 'psp_event',
    region: known.topup?.region ?? deps.region,
    needs: {
      accounts: known.topup ? [known.topup.account_id] : [],
      topups: topup_id === null ? [] : [topup_id],
      psp_events: [delivery.key, bodyKey(delivery.raw_body)],
    },
    decide: (unit) => recordDelivery(deps, unit, delivery),
  });
  // Told once it committed: a batch may decide again when it reruns.
  if (receipt.held) {
    const { event_id, reason } = receipt.held;
    deps.logger.warn({ event_id, outcome: receipt.outcome, reason }, 'PSP event held for review');
  }
  return receipt;
}

/**
 * Inside the batch: a delivery the log already has (perhaps from an earlier operation of the same
 * batch) changes nothing; an id recorded with another body is kept under the key of its own bytes
 * and never applied; anything else is applied as far as the state machine allows, and logged.
 */
function recordDelivery(deps: AppDeps, unit: Unit, delivery: LoggedDelivery): Receipt {
  const log = unit.table(PSP_EVENTS);
  const repeated = repeatedEntry((key) => log.get(key), delivery);
  if (repeated) return { outcome: repeated.outcome as EventOutcome, first: false };
  const recorded = log.get(delivery.key);
  const topup_before = delivery.topup_id === null ? undefined : unit.table(TOPUPS).get(delivery.topup_id);
  const record = recorded ? conflictRecord(delivery, { key: bodyKey(delivery.raw_body), recorded }) : applyDelivery(deps, unit, delivery);
  log.insert({ ...record, received_at: unit.now });
  emitTopupEvents(unit, record, topup_before);
  const held = record.review_reason === null ? undefined : { event_id: record.id, reason: record.review_reason };
  return { outcome: record.outcome, first: true, ...(held ? { held } : {}) };
}

/** What a delivery did to its top-up, as integrators hear it: the top-up as GET /v1/topups/{id} shows it now. */
function emitTopupEvents(unit: Unit, record: EventRecord, before: Topup | undefined): void {
  const topup = record.topup_id === null ? undefined : unit.table(TOPUPS).get(record.topup_id);
  if (!topup || before?.id !== topup.id) return;
  const types: EventType[] = [];
  if (record.review_reason !== null) types.push('topup.held_for_review');
  // A success is credited even when it holds something for review (a refund of another payment waited for it).
  if (record.outcome === 'credited') types.push('topup.succeeded');
  else if (record.outcome === 'failed') types.push('topup.failed');
  // A refund applied now, or refunds that waited for the success applied with it.
  if (topup.reversed_minor > before.reversed_minor) types.push('topup.reversed');
  if (types.length === 0) return;
  const logged = unit
    .table(TOPUP_LOG)
    .all()
    .filter((event) => event.topup_id === topup.id);
  const recorded = unit
    .table(PSP_EVENTS)
    .inserted()
    .filter((event) => event.topup_id === topup.id)
    .map(recordedTopupEvent);
  const data = topupEventData(topup, [...logged, ...recorded]);
  for (const type of types) emitEvent(unit, { type, account_id: topup.account_id, data });
}

/** An id already recorded with another body: kept, under the key of its own bytes, and never applied. */
function conflictRecord(delivery: LoggedDelivery, receipt: { key: string; recorded: RecordedDelivery }): EventRecord {
  return {
    ...conflictEntry(delivery, receipt.key),
    outcome: 'conflict',
    topup_id: receipt.recorded.topup_id,
    amount_minor: null,
    currency: null,
    region: receipt.recorded.region,
  };
}

function applyDelivery(deps: AppDeps, unit: Unit, delivery: LoggedDelivery): EventRecord {
  const { key: id, type, topup_id, payload } = delivery;
  const topup = topup_id === null ? undefined : unit.table(TOPUPS).get(topup_id);
  const region = topup?.region ?? unit.region;
  // What is not an event we understand is kept byte for byte.
  const body_base64 = delivery.kind === 'malformed' ? bodyBase64(delivery.raw_body) : null;
  const recorded = { id, type, topup_id, payload, body_base64, conflicts_with: null, region };
  const meaning = delivery.meaning(topup);
  if (!('event' in meaning)) return { ...recorded, ...meaning, amount_minor: null, currency: null };
  invariant(topup, `event ${id} was given to the state machine without its top-up`);
  const decision = applyToTopup(deps, unit, topup, meaning.event);
  const { amount, currency } = meaning.event.data;
  return { ...recorded, outcome: decision.outcome, review_reason: decision.review_reason, amount_minor: amount, currency };
}

/** Lets the state machine decide on the top-up and its wallet, and writes the result: ledger first, then the top-up. */
function applyToTopup(deps: AppDeps, unit: Unit, topup: Topup, event: PspEvent): Decision {
  const wallet = unit.wallets.get(walletKey(topup.account_id, topup.currency));
  const balance = { balance_minor: wallet?.balance_minor ?? 0, held_minor: wallet?.held_minor ?? 0 };
  const limits = { balance_max_minor: deps.config.limits.balance_max_minor, reversals_max: deps.config.topup_reversals_max };
  const decision = decideTopupEvent(topup, event, balance, limits);
  if (decision.next === topup) return decision;
  const mark = unit.journal.mark();
  try {
    return writeDecision(deps, unit, topup, decision);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    // The ledger refuses what the machine allowed (a limit of the account's KYC tier, a closed
    // account): the event is recorded and held, never answered with an error the PSP would retry
    // for days while nobody sees it.
    unit.journal.rollbackTo(mark);
    return {
      outcome: 'held_for_review',
      review_reason: `${event.id} could not be posted: ${error.message}`,
      next: topup,
      transactions: [],
    };
  }
}

function writeDecision(deps: AppDeps, unit: Unit, topup: Topup, decision: Decision): Decision {
  const ledger = { credit_transaction_id: topup.credit_transaction_id, reversal_transaction_id: topup.reversal_transaction_id };
  for (const planned of decision.transactions) {
    const posted = postTransaction(
      unit,
      {
        type: planned.type,
        account_id: topup.account_id,
        currency: topup.currency,
        amount_minor: planned.amount_minor,
        topup_id: topup.id,
        reference: planned.reference,
        original_transaction_id: planned.type === 'topup_reversal' ? ledger.credit_transaction_id : null,
        postings: planned.postings,
      },
      deps.config.limits,
    );
    if (planned.type === 'topup') ledger.credit_transaction_id = posted.id;
    else ledger.reversal_transaction_id = posted.id;
  }
  const { status, psp_payment_id, reversed_minor, unrecovered_minor, reversals } = decision.next;
  unit
    .table(TOPUPS)
    .update(topup.id, { status, psp_payment_id, reversed_minor, unrecovered_minor, reversals, ...ledger, updated_at: unit.now });
  freezeOnLoss(unit, topup, unrecovered_minor - topup.unrecovered_minor);
  return decision;
}

const CHARGEBACK_DESK: Actor = { kind: 'service', id: 'psp-chargebacks', scopes: new Set() };

/**
 * A chargeback the wallet could not pay back in full leaves the account frozen, for compliance to
 * review: money still comes in, none leaves. The part not recovered was spent, or held: a hold
 * released later (an order cancelled), or a refund of what the money bought, gave the player back
 * credits the card's owner had taken back, free to transfer or cash out.
 */
function freezeOnLoss(unit: Unit, topup: Topup, lost_minor: number): void {
  const account = unit.account(topup.account_id);
  if (lost_minor <= 0 || account?.status !== 'active') return;
  const reason = `a chargeback of top-up ${topup.id} left ${lost_minor} ${topup.currency} unrecovered`;
  changeStatusIn(unit, account, 'freeze', CHARGEBACK_DESK, reason);
}
