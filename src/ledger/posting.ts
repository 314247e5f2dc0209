import { randomUUID } from 'node:crypto';
import type { Unit } from '../batch/unit.js';
import { chargeLimits, guardHold, guardInflow, requireOutflowAllowed, returnLimits, usageOf } from '../compliance/wallet-guard.js';
import { DomainError, invariant, notFound } from '../domain/errors.js';
import { emitEvent } from '../events/emit.js';
import type { KycSettings } from '../platform/wallet-config.js';
import {
  newWallet,
  REFERENCE_FIELDS,
  walletKey,
  type AccountRecord,
  type EntryRecord,
  type Metadata,
  type TransactionRecord,
  type TransactionReferences,
  type TransactionType,
  type WalletRecord,
} from './ledger-records.js';
import { assertBalanced, insufficientFunds, isSystemAccount, type Posting } from './postings.js';
import { transactionView } from './views.js';

export interface NewTransaction extends TransactionReferences {
  type: TransactionType;
  /** The account the transaction is about (the payer): its home region holds the row. */
  account_id: string;
  currency: string;
  amount_minor: number;
  postings: Posting[];
  metadata?: Metadata;
  /**
   * Set on money coming back from an outflow that never happened (a payout that failed): the
   * outflow counted against the wallet's limits when it was made, and no longer does.
   */
  undoes_outflow?: { made_at: string };
}

export interface PostedEntry {
  account_id: string;
  currency: string;
  amount_minor: number;
  /** Null for system accounts. */
  balance_after_minor: number | null;
}

export interface PostedTransaction extends TransactionReferences {
  id: string;
  type: TransactionType;
  account_id: string;
  currency: string;
  amount_minor: number;
  metadata: Metadata;
  entries: PostedEntry[];
  /** Home region of `account_id`, where the transaction row lives. */
  region: string;
  created_at: string;
}

export interface LedgerLimits {
  balance_max_minor: number;
  /** Tier limits and velocity checks on player wallets. */
  kyc: KycSettings;
  /** How far below zero refunds may take a merchant's wallet back. */
  merchant_credit_limit_minor: number;
}

/** Transactions that take a merchant's revenue share or payment back: only they may take its wallet below zero. */
const TAKE_BACKS: ReadonlySet<TransactionType> = new Set<TransactionType>(['order_refund', 'refund']);

/**
 * Appends one balanced ledger transaction to the batch and moves every balance it touches: a
 * player wallet is checked against its account's status, overdraft, its maximum and the KYC
 * limits, and its account takes the next history number; a system account moves the batch's
 * shard of its balance.
 */
export function postTransaction(unit: Unit, input: NewTransaction, limits: LedgerLimits): PostedTransaction {
  assertBalanced(input.postings);
  const id = randomUUID();
  const entries = input.postings.map((posting) =>
    isSystemAccount(posting.account_id) ? moveShard(unit, id, posting) : moveWallet(unit, id, posting, input, limits),
  );
  const references = Object.fromEntries(REFERENCE_FIELDS.map((field) => [field, input[field] ?? null])) as Required<TransactionReferences>;
  const record: TransactionRecord = {
    ...references,
    id,
    type: input.type,
    account_id: input.account_id,
    currency: input.currency,
    amount_minor: input.amount_minor,
    metadata: input.metadata ?? {},
    region: (isSystemAccount(input.account_id) ? undefined : unit.account(input.account_id)?.region) ?? unit.region,
    created_at: unit.now,
  };
  unit.transactions.insert(record);
  for (const entry of entries) unit.entries.insert(entry);
  const posted = postedOf(record, entries);
  emitEvent(unit, { type: 'transaction.posted', account_id: record.account_id, data: transactionView(posted) });
  return posted;
}

export function postedOf(record: TransactionRecord, entries: readonly EntryRecord[]): PostedTransaction {
  return {
    ...record,
    entries: inEntryOrder(
      entries.map(({ account_id, currency, amount_minor, balance_after_minor }) => ({
        account_id,
        currency,
        amount_minor,
        balance_after_minor,
      })),
    ),
  };
}

/**
 * A transaction's entries in the one order every view of it shows (GET, its transaction.posted
 * event): by amount, then account id compared as code units (the database's collation is not asked).
 */
export function inEntryOrder<E extends Pick<PostedEntry, 'amount_minor' | 'account_id'>>(entries: E[]): E[] {
  return entries.sort(
    (a, b) => a.amount_minor - b.amount_minor || (a.account_id < b.account_id ? -1 : a.account_id > b.account_id ? 1 : 0),
  );
}

/** A player account of the batch, or not_found. */
export function requireAccount(unit: Unit, account_id: string): AccountRecord {
  const account = unit.account(account_id);
  if (!account) throw notFound(`account ${account_id}`);
  return account;
}

/** A player's wallet in a currency; an account without one cannot pay (or be paid) in that currency. */
export function requireWallet(unit: Unit, account_id: string, currency: string): WalletRecord {
  requireAccount(unit, account_id);
  const wallet = unit.wallets.get(walletKey(account_id, currency));
  if (!wallet) throw new DomainError('currency_mismatch', `account ${account_id} has no ${currency} wallet`);
  return wallet;
}

/**
 * The next `count` numbers of a player account's history sequence. The account row is locked by
 * the batch, so sequence order is commit order: history, order and entitlement cursors rely on it.
 */
export function takeSequence(unit: Unit, account_id: string, count: number): number {
  const account = requireAccount(unit, account_id);
  unit.accounts.update(account_id, { entry_seq: account.entry_seq + count });
  return account.entry_seq + 1;
}

/**
 * Money going back to the wallet it left: the wallet maximum bounds new money, never these (a
 * failed payout's return, reported by a signed callback, was refused once the wallet had been
 * credited up to its maximum meanwhile, and the callback went unrecorded).
 */
const RETURNS: ReadonlySet<TransactionType> = new Set<TransactionType>(['refund', 'order_refund', 'withdrawal_return']);

function moveWallet(unit: Unit, transaction_id: string, posting: Posting, input: NewTransaction, limits: LedgerLimits): EntryRecord {
  const { account_id, currency, amount_minor } = posting;
  const account = requireAccount(unit, account_id);
  const key = walletKey(account_id, currency);
  if (amount_minor < 0) requireOutflowAllowed(account, input.type);
  const wallet =
    unit.wallets.get(key) ??
    (posting.opens_wallet && amount_minor > 0
      ? unit.wallets.insert(newWallet(account, currency, unit.now))
      : requireWallet(unit, account_id, currency));
  const balance_minor = wallet.balance_minor + amount_minor;
  let usage = {};
  if (amount_minor < 0) {
    const floor_minor = wallet.overdraft_allowed && TAKE_BACKS.has(input.type) ? -limits.merchant_credit_limit_minor : 0;
    if (balance_minor - wallet.held_minor < floor_minor) {
      // The merchant is the other side of a refund: its balance is not the refunded player's business.
      if (account.kind === 'merchant' && TAKE_BACKS.has(input.type))
        throw new DomainError('insufficient_funds', 'the merchant cannot return its share of this refund');
      throw insufficientFunds(account_id, currency, wallet.balance_minor - wallet.held_minor, -amount_minor);
    }
    const charged = chargeLimits(unit, account, wallet, input.type, -amount_minor, limits.kyc);
    if (charged) usage = usageOf(charged);
  } else {
    guardInflow(account, wallet, input.type, balance_minor, account_id === input.account_id, limits.kyc);
    if (input.undoes_outflow) {
      const returned = returnLimits(unit, account, wallet, input.type, amount_minor, input.undoes_outflow.made_at, limits.kyc);
      if (returned) usage = usageOf(returned);
    }
    if (balance_minor > limits.balance_max_minor && !RETURNS.has(input.type)) {
      // Never names the wallet, its balance or the cap: the payer may be another player.
      throw new DomainError('invalid_state', 'the receiving account cannot receive this amount');
    }
  }
  unit.wallets.update(key, { ...usage, balance_minor, updated_at: unit.now });
  const account_seq = takeSequence(unit, account_id, 1);
  return entryOf(unit, transaction_id, posting, { balance_after_minor: balance_minor, account_seq, shard: null, region: account.region });
}

function moveShard(unit: Unit, transaction_id: string, posting: Posting): EntryRecord {
  const { account_id, currency, amount_minor } = posting;
  const key = walletKey(account_id, currency);
  const shard = unit.shards.get(key) ?? unit.shards.insert({ account_id, currency, delta_minor: 0 });
  unit.shards.update(key, { delta_minor: shard.delta_minor + amount_minor });
  return entryOf(unit, transaction_id, posting, { balance_after_minor: null, account_seq: null, shard: unit.shard, region: unit.region });
}

/** The entry of `posting`: on a wallet (balance after, account sequence) or on a system balance's shard. */
function entryOf(
  unit: Unit,
  transaction_id: string,
  posting: Posting,
  placed: Pick<EntryRecord, 'balance_after_minor' | 'account_seq' | 'shard' | 'region'>,
): EntryRecord {
  const { account_id, currency, amount_minor } = posting;
  return { id: randomUUID(), transaction_id, account_id, currency, amount_minor, ...placed, created_at: unit.now };
}

/**
 * Reserves available money for a hold: moves it into `held`, or insufficient_funds. The account
 * must be active and the amount within its KYC limits of one debit and of today's debits.
 */
export function holdFunds(unit: Unit, account_id: string, currency: string, amount_minor: number, kyc: KycSettings): void {
  const account = requireAccount(unit, account_id);
  const wallet = requireWallet(unit, account_id, currency);
  guardHold(unit, account, wallet, amount_minor, kyc);
  const available = wallet.balance_minor - wallet.held_minor;
  if (available < amount_minor) throw insufficientFunds(account_id, currency, available, amount_minor);
  unit.wallets.update(walletKey(account_id, currency), { held_minor: wallet.held_minor + amount_minor, updated_at: unit.now });
}

/** Gives held money back to the available balance (a hold ended). */
export function releaseFunds(unit: Unit, account_id: string, currency: string, amount_minor: number): void {
  const wallet = requireWallet(unit, account_id, currency);
  invariant(wallet.held_minor >= amount_minor, `wallet ${account_id}/${currency} holds less than the ${amount_minor} being released`);
  unit.wallets.update(walletKey(account_id, currency), { held_minor: wallet.held_minor - amount_minor, updated_at: unit.now });
}
