import { randomUUID } from 'node:crypto';
import { DomainError, invariant, notFound } from '../domain/errors.js';
import { int8, timestamp, type SqlTx } from '../db/sql.js';
import { assertBalanced, insufficientFunds, isSystemAccount, type Posting } from './postings.js';

export type TransactionType =
  | 'credit'
  | 'debit'
  | 'refund'
  | 'transfer'
  | 'hold_capture'
  | 'purchase'
  | 'order_refund'
  | 'topup'
  | 'topup_reversal'
  | 'seller_purchase';

/** What a ledger transaction references besides its postings (all optional). */
export interface TransactionReferences {
  reason?: string | null;
  reference?: string | null;
  note?: string | null;
  original_transaction_id?: string | null;
  hold_id?: string | null;
  order_id?: string | null;
  refund_id?: string | null;
  topup_id?: string | null;
  purchase_request_id?: string | null;
}

export interface NewTransaction extends TransactionReferences {
  type: TransactionType;
  /** The account the transaction is about (the payer): its home region holds the row. */
  account_id: string;
  currency: string;
  amount_minor: number;
  postings: Posting[];
}

export interface PostedEntry {
  account_id: string;
  currency: string;
  amount_minor: number;
  balance_after_minor: number | null;
}

export interface PostedTransaction extends TransactionReferences {
  id: string;
  type: TransactionType;
  account_id: string;
  currency: string;
  amount_minor: number;
  entries: PostedEntry[];
  /** Home region of `account_id`, where the transaction row lives. */
  region: string;
  created_at: string;
}

const REFERENCE_COLUMNS = [
  'reason',
  'reference',
  'note',
  'original_transaction_id',
  'hold_id',
  'order_id',
  'refund_id',
  'topup_id',
  'purchase_request_id',
] as const;

export interface LedgerLimits {
  balance_max_minor: number;
}

/**
 * Appends one balanced ledger transaction and moves every balance it touches, inside the
 * caller's serializable transaction. Player wallets are checked against overdraft in the same
 * statement that moves them; system accounts move one shard of their balance.
 */
export async function postTransaction(tx: SqlTx, input: NewTransaction, limits: LedgerLimits): Promise<PostedTransaction> {
  assertBalanced(input.postings);
  const accounts = await reserveSequences(tx, input.postings);
  const entries: Array<PostedEntry & { account_seq: number | null; shard: number | null; region: string }> = [];
  for (const posting of input.postings) {
    if (isSystemAccount(posting.account_id)) {
      const balance_after_minor = await moveSystemShard(tx, posting);
      entries.push({ ...posting, balance_after_minor, account_seq: null, shard: tx.context.shard, region: tx.context.region });
    } else {
      const account = accounts.get(posting.account_id)!;
      const balance_after_minor = await moveWallet(tx, posting, account.region, limits);
      entries.push({ ...posting, balance_after_minor, account_seq: account.next_seq++, shard: null, region: account.region });
    }
  }
  const id = randomUUID();
  const region = accounts.get(input.account_id)?.region ?? tx.context.region;
  const inserted = await tx.one<{ created_at: string }>(
    `INSERT INTO ledger_transactions (id, type, account_id, currency, amount_minor, ${REFERENCE_COLUMNS.join(', ')}, crdb_region)
     VALUES (?, ?, ?, ?, ?, ${REFERENCE_COLUMNS.map(() => '?').join(', ')}, ?) RETURNING created_at`,
    [
      id,
      input.type,
      input.account_id,
      input.currency,
      input.amount_minor,
      ...REFERENCE_COLUMNS.map((column) => input[column] ?? null),
      region,
    ],
  );
  await tx.execute(
    `INSERT INTO ledger_entries (id, transaction_id, account_id, currency, amount_minor,
       balance_after_minor, account_seq, shard, crdb_region)
     VALUES ${entries.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    entries.flatMap((entry) => [
      randomUUID(),
      id,
      entry.account_id,
      entry.currency,
      entry.amount_minor,
      entry.balance_after_minor,
      entry.account_seq,
      entry.shard,
      entry.region,
    ]),
  );
  const references = Object.fromEntries(REFERENCE_COLUMNS.map((column) => [column, input[column] ?? null]));
  return {
    ...references,
    id,
    type: input.type,
    account_id: input.account_id,
    currency: input.currency,
    amount_minor: input.amount_minor,
    entries: entries.map(({ account_id, currency, amount_minor, balance_after_minor }) => ({
      account_id,
      currency,
      amount_minor,
      balance_after_minor,
    })),
    region,
    created_at: timestamp(inserted.created_at),
  };
}

interface SequenceBlock {
  next: number;
  end: number;
  region: string;
}

/** Sequence numbers a transaction took for each account and has not used yet. */
const blocks = new WeakMap<SqlTx, Map<string, SequenceBlock>>();

/**
 * A transaction takes numbers in blocks so that it updates an account's counter row once,
 * whatever it appends: on PostgreSQL each update makes a new row version, and a transaction
 * that reads several versions on one heap page predicate-locks the whole page, turning writes
 * to other accounts on that page into serialization failures. Unused numbers are gaps, which
 * cursors do not mind.
 */
const SEQUENCE_BLOCK = 16;

/**
 * Takes the next `count` numbers of a player account's sequence and returns the first, with the
 * account's home region. The counter row serializes everything appended to the account, so
 * sequence order is commit order on both engines: history, order and entitlement cursors rely on it.
 */
export async function reserveAccountSequence(tx: SqlTx, account_id: string, count: number): Promise<{ first_seq: number; region: string }> {
  const taken = blocks.get(tx) ?? new Map<string, SequenceBlock>();
  blocks.set(tx, taken);
  let block = taken.get(account_id);
  if (!block || block.end - block.next < count) {
    const size = Math.max(count, SEQUENCE_BLOCK);
    const row = await tx.maybeOne<{ entry_seq: string; crdb_region: string }>(
      "UPDATE accounts SET entry_seq = entry_seq + ? WHERE id = ? AND kind = 'player' RETURNING entry_seq, crdb_region",
      [size, account_id],
    );
    if (!row) throw notFound(`account ${account_id}`);
    block = { next: int8(row.entry_seq) - size + 1, end: int8(row.entry_seq) + 1, region: row.crdb_region };
    taken.set(account_id, block);
  }
  const first_seq = block.next;
  block.next += count;
  return { first_seq, region: block.region };
}

/** Sequence numbers for every player account of a transaction, taken in account id order. */
async function reserveSequences(tx: SqlTx, postings: readonly Posting[]) {
  const counts = new Map<string, number>();
  for (const posting of postings) {
    if (!isSystemAccount(posting.account_id)) counts.set(posting.account_id, (counts.get(posting.account_id) ?? 0) + 1);
  }
  const accounts = new Map<string, { next_seq: number; region: string }>();
  for (const account_id of [...counts.keys()].sort()) {
    const { first_seq, region } = await reserveAccountSequence(tx, account_id, counts.get(account_id)!);
    accounts.set(account_id, { next_seq: first_seq, region });
  }
  return accounts;
}

async function moveWallet(tx: SqlTx, posting: Posting, region: string, limits: LedgerLimits): Promise<number> {
  if (posting.amount_minor < 0) {
    const moved = await tx.maybeOne<{ balance_minor: string }>(
      `UPDATE wallets SET balance_minor = balance_minor + ?, updated_at = now()
       WHERE account_id = ? AND currency = ? AND balance_minor - held_minor + ? >= 0 RETURNING balance_minor`,
      [posting.amount_minor, posting.account_id, posting.currency, posting.amount_minor],
    );
    if (moved) return int8(moved.balance_minor);
    const wallet = await readWallet(tx, posting.account_id, posting.currency);
    throw insufficientFunds(posting.account_id, posting.currency, wallet.balance_minor - wallet.held_minor, -posting.amount_minor);
  }
  const credited = await tx.one<{ balance_minor: string }>(
    `INSERT INTO wallets (account_id, currency, balance_minor, crdb_region) VALUES (?, ?, ?, ?)
     ON CONFLICT (account_id, currency) DO UPDATE SET balance_minor = wallets.balance_minor + excluded.balance_minor, updated_at = now()
     RETURNING balance_minor`,
    [posting.account_id, posting.currency, posting.amount_minor, region],
  );
  const balance_minor = int8(credited.balance_minor);
  if (balance_minor > limits.balance_max_minor) {
    // The caller may not own this wallet (a transfer's recipient): say nothing of its id, balance or cap.
    throw new DomainError('invalid_state', 'the receiving account cannot receive this amount');
  }
  return balance_minor;
}

async function moveSystemShard(tx: SqlTx, posting: Posting): Promise<number> {
  const row = await tx.one<{ balance_minor: string }>(
    `INSERT INTO system_balance_shards (account_id, currency, shard, balance_minor, crdb_region) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (account_id, currency, shard) DO UPDATE
       SET balance_minor = system_balance_shards.balance_minor + excluded.balance_minor, updated_at = now()
     RETURNING balance_minor`,
    [posting.account_id, posting.currency, tx.context.shard, posting.amount_minor, tx.context.region],
  );
  return int8(row.balance_minor);
}

export interface WalletState {
  balance_minor: number;
  held_minor: number;
}

/** A player's wallet in a currency; an account without one cannot pay in that currency. */
export async function readWallet(tx: SqlTx, account_id: string, currency: string): Promise<WalletState> {
  const row = await tx.maybeOne<{ balance_minor: string; held_minor: string }>(
    'SELECT balance_minor, held_minor FROM wallets WHERE account_id = ? AND currency = ?',
    [account_id, currency],
  );
  if (!row) {
    const account = await tx.maybeOne('SELECT id FROM accounts WHERE id = ?', [account_id]);
    if (!account) throw notFound(`account ${account_id}`);
    throw new DomainError('currency_mismatch', `account ${account_id} has no ${currency} wallet`);
  }
  return { balance_minor: int8(row.balance_minor), held_minor: int8(row.held_minor) };
}

/** Reserves available money for a hold; the overdraft check is in the statement itself. */
export async function holdFunds(tx: SqlTx, account_id: string, currency: string, amount_minor: number): Promise<void> {
  const held = await tx.execute(
    `UPDATE wallets SET held_minor = held_minor + ?, updated_at = now()
     WHERE account_id = ? AND currency = ? AND balance_minor - held_minor >= ?`,
    [amount_minor, account_id, currency, amount_minor],
  );
  if (held === 1) return;
  const wallet = await readWallet(tx, account_id, currency);
  throw insufficientFunds(account_id, currency, wallet.balance_minor - wallet.held_minor, amount_minor);
}

export async function releaseFunds(tx: SqlTx, account_id: string, currency: string, amount_minor: number): Promise<void> {
  const released = await tx.execute(
    `UPDATE wallets SET held_minor = held_minor - ?, updated_at = now()
     WHERE account_id = ? AND currency = ? AND held_minor >= ?`,
    [amount_minor, account_id, currency, amount_minor],
  );
  invariant(released === 1, `wallet ${account_id}/${currency} holds less than the ${amount_minor} being released`);
}
