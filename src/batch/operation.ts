import { DomainError } from '../domain/errors.js';
import type { Unit } from './unit.js';

/** What a batch must read before its operations decide: by primary key, in one round trip. */
export interface Needs {
  /**
   * Player accounts whose money, holds or history the operation may change: their rows are
   * locked for the batch (in id order, so batches never deadlock) and all their wallets loaded.
   */
  accounts: readonly string[];
  holds?: readonly string[];
  /** Ledger transactions to refund, with their entries and what was refunded of them. */
  transactions?: readonly string[];
  items?: readonly string[];
  /** Orders with their lines and entitlements. */
  orders?: readonly string[];
  /** Purchase requests of the seller aggregator, with their attempts and their job. */
  purchase_requests?: readonly string[];
  topups?: readonly string[];
  /** Keys of the PSP event log. */
  psp_events?: readonly string[];
  /** Events of the outbox (a redelivery). Webhook endpoints need not be asked for: every batch reads them. */
  events?: readonly string[];
  withdrawals?: readonly string[];
  /** Payout event log rows, by key: a callback is recorded once. */
  payout_events?: readonly string[];
  /** Accounts whose pending withdrawals and top-ups are counted (closing an account). */
  obligations?: readonly string[];
}

/**
 * One money movement (or any change that must commit with one), as the batcher runs it: what it
 * needs read, and a decision made in memory on the batch's state. `decide` throws a DomainError
 * for an expected failure (its changes are undone, the batch goes on); it never does I/O.
 */
export interface Operation<T> {
  /** Metric label, e.g. "debit". */
  name: string;
  /**
   * Home region of the rows it changes (the payer's): picks the batcher where batches keep to a
   * home region (CockroachDB), so that a batch stays within one region unless one of its
   * operations spans two (a cross-region transfer). Its idempotency record lives there too.
   */
  region: string;
  needs: Needs;
  decide(unit: Unit): T;
}

/**
 * A refusal that still leaves a record behind (an AML review flag of a refused velocity
 * breach): the executor undoes the operation's changes, as for any failure, then applies `keep`
 * to the batch's state, so the record commits with the batch while the operation answers the refusal.
 */
export class RecordedRefusal extends DomainError {
  constructor(
    refusal: DomainError,
    readonly keep: (unit: Unit) => void,
  ) {
    super(refusal.code, refusal.detail, refusal.extensions);
  }
}

/** The exact answer a request got the first time, replayed byte for byte under its Idempotency-Key. */
export interface StoredResponse {
  status: number;
  body: string;
}

/** How a client request is made exactly once (SPEC §4), and how its answers are written down. */
export interface RequestIdempotency {
  /** `player:<id>` or `service:<id>`: keys are scoped per caller. */
  caller: string;
  key: string;
  fingerprint: string;
  success_status: number;
  /** The problem+json answer of a business failure, as this request is answered (and replayed). */
  renderFailure(error: DomainError): StoredResponse;
}

/** What a request gets back: the stored answer, marked when it is a replay. */
export interface RequestAnswer extends StoredResponse {
  replayed: boolean;
}
