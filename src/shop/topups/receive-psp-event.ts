import { DomainError, invariant } from '../../domain/errors.js';
import type { SqlTx } from '../../db/sql.js';
import { twinCommitted } from '../../idempotency/command-runner.js';
import { postTransaction } from '../../ledger/ledger-repository.js';
import type { AppDeps } from '../../platform/deps.js';
import { findPspEvent, insertPspEvent, type NewPspEvent } from './psp-event-repository.js';
import { conflictEntry, malformedEntry } from '../../webhooks/signed-delivery.js';
import { bodyKey, isSameDelivery, readPspDelivery, type PspDelivery, type RecordedDelivery } from './psp-event.js';
import { verifySignature } from './psp-signature.js';
import { findTopup, findWalletBalance, saveTopup, type Topup } from './topup-repository.js';
import { decideTopupEvent, type Decision, type MachineOutcome, type PspEvent } from './topup-state-machine.js';

export type EventOutcome = MachineOutcome | 'conflict' | 'malformed' | 'unknown_topup';

/** A row of the event log with what the delivery came to. */
type EventRecord = NewPspEvent & { outcome: EventOutcome };

/** Where a delivery stands against the event log. */
type Receipt = { kind: 'new' } | { kind: 'duplicate' } | { kind: 'conflict'; key: string; recorded: RecordedDelivery };

/**
 * A PSP callback. Only a valid signature over the raw body gets in; from then on the answer is
 * 200, whatever the body says. Every delivery is recorded once in the event log (psp_events), in
 * the same transaction as its effect: a redelivery changes nothing; an id reused with another
 * body, a malformed body, an unknown top-up or anything the state machine cannot apply is
 * recorded and held for review (the top-up shows it, reconciliation counts it).
 */
export async function receivePspEvent(
  deps: AppDeps,
  raw_body: string,
  signature_header: string,
): Promise<{ received: true; outcome: EventOutcome }> {
  const check = verifySignature(
    signature_header,
    raw_body,
    deps.config.psp_webhook_secret,
    Math.floor(Date.now() / 1000),
    deps.config.psp_signature_tolerance_seconds,
  );
  if (!check.ok) throw new DomainError('unauthenticated', check.reason);
  const delivery = readPspDelivery(raw_body, deps.config.psp_event_depth_max);
  // Looked up before the serializable transaction: inside it, the lookup would predicate-lock an
  // index page every other event inserts into. The event log's primary key alone decides.
  const known = await deps.transactions.read(async (tx) => ({
    receipt: await classify(tx, delivery),
    topup: delivery.kind === 'event' ? await findTopup(tx, delivery.event.data.topup_id) : undefined,
  }));
  if (known.receipt.kind === 'duplicate') return { received: true, outcome: 'duplicate' };
  let attempts = 0;
  const recorded = await deps.transactions.run(
    'psp_event',
    async (tx) => {
      const receipt = ++attempts === 1 ? known.receipt : await classify(tx, delivery);
      if (receipt.kind === 'duplicate') return undefined;
      const record = receipt.kind === 'conflict' ? conflictRecord(delivery, receipt) : await applyDelivery(deps, tx, delivery);
      if (!(await insertPspEvent(tx, record))) throw twinCommitted();
      return record;
    },
    { contended_accounts: known.topup ? [known.topup.account_id] : [] },
  );
  if (!recorded) return { received: true, outcome: 'duplicate' };
  if (recorded.review_reason !== null) {
    deps.logger.warn({ event_id: recorded.id, outcome: recorded.outcome, reason: recorded.review_reason }, 'PSP event held for review');
  }
  return { received: true, outcome: recorded.outcome };
}

async function classify(tx: SqlTx, delivery: PspDelivery): Promise<Receipt> {
  const recorded = await findPspEvent(tx, delivery.key);
  if (!recorded) return { kind: 'new' };
  if (isSameDelivery(recorded, delivery)) return { kind: 'duplicate' };
  const key = bodyKey(delivery.raw_body);
  return (await findPspEvent(tx, key)) ? { kind: 'duplicate' } : { kind: 'conflict', key, recorded };
}

/** An id already recorded with another body: kept, under the key of its own bytes, and never applied. */
function conflictRecord(delivery: PspDelivery, receipt: { key: string; recorded: RecordedDelivery }): EventRecord {
  return {
    ...conflictEntry(delivery, receipt.key),
    outcome: 'conflict',
    topup_id: receipt.recorded.topup_id,
    region: receipt.recorded.region,
  };
}

async function applyDelivery(deps: AppDeps, tx: SqlTx, delivery: PspDelivery): Promise<EventRecord> {
  const topup_id = delivery.kind === 'event' ? delivery.event.data.topup_id : delivery.subject_id;
  const topup = topup_id === null ? undefined : await findTopup(tx, topup_id);
  const region = topup?.region ?? tx.context.region;
  if (delivery.kind === 'malformed') {
    return { ...malformedEntry(delivery), outcome: 'malformed', topup_id, region };
  }
  const recorded = { id: delivery.key, type: delivery.event.type, topup_id, payload: delivery.payload, body_base64: null };
  if (!topup) {
    const review_reason = `no top-up ${topup_id}`;
    return { ...recorded, outcome: 'unknown_topup', review_reason, conflicts_with: null, region };
  }
  const decision = await applyToTopup(deps, tx, topup, delivery.event);
  return { ...recorded, outcome: decision.outcome, review_reason: decision.review_reason, conflicts_with: null, region };
}

/** Loads what the state machine needs, lets it decide, and writes the result: ledger first, then the top-up. */
async function applyToTopup(deps: AppDeps, tx: SqlTx, topup: Topup, event: PspEvent): Promise<Decision> {
  const wallet = await findWalletBalance(tx, topup.account_id, topup.currency);
  const limits = { balance_max_minor: deps.config.limits.balance_max_minor, reversals_max: deps.config.topup_reversals_max };
  const decision = decideTopupEvent(topup, event, wallet, limits);
  if (decision.next === topup) return decision;
  const ledger = { credit_transaction_id: topup.credit_transaction_id, reversal_transaction_id: topup.reversal_transaction_id };
  for (const planned of decision.transactions) {
    const posted = await postTransaction(
      tx,
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
  invariant(await saveTopup(tx, topup, decision.next, ledger), `top-up ${topup.id} changed while event ${event.id} was applied`);
  return decision;
}
