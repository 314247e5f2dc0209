import { InvariantViolation } from '../domain/errors.js';
import { IDEMPOTENCY_KEYS, type IdempotencyRecord } from '../idempotency/idempotency-record.js';
import {
  ACCOUNTS,
  ENTRIES,
  HOLDS,
  TRANSACTIONS,
  WALLETS,
  walletKey,
  type AccountRecord,
  type EntryRecord,
  type HoldRecord,
  type ShardDelta,
  type TransactionRecord,
  type WalletRecord,
} from '../ledger/ledger-records.js';
import type { Item } from '../shop/catalog/item.js';
import { Journal, TrackedTable } from './journal.js';
import type { TableSpec } from './table-writer.js';

/** A ledger transaction read by the batch (to refund it), with its entries and what was refunded of it so far. */
export interface PostedRecord {
  transaction: TransactionRecord;
  entries: EntryRecord[];
  refunded_minor: number;
}

/**
 * The in-memory state of one batch: every row its operations read (loaded once, in one round
 * trip, inside the batch's serializable transaction) and everything they change or create.
 * Operations decide against it one after another, in arrival order, like a state machine; the
 * batch then writes all changes with one statement per table. Every change is journaled, so a
 * failed operation leaves no trace for the operations after it.
 */
export class Unit {
  readonly journal = new Journal();
  private readonly tables = new Map<TableSpec<never>, TrackedTable<object>>();
  /** What the batch adds to system accounts, on its shard: written with one upsert, never read. */
  readonly shards: TrackedTable<ShardDelta>;
  /** Transactions read to be refunded: never written, their refunded sum is tracked here. */
  readonly posted: TrackedTable<PostedRecord>;
  readonly items = new Map<string, Item>();
  /** Accounts an operation needed that do not exist (as players). */
  readonly missing_accounts = new Set<string>();

  constructor(
    /** The transaction's timestamp (RFC 3339): every row the batch writes carries it. */
    readonly now: string,
    /** The home region of the batch: system-balance shard rows live there. */
    readonly region: string,
    /** The system-balance shard this batch owns (no other batch writes it at the same time). */
    readonly shard: number,
  ) {
    this.shards = new TrackedTable('shard', (row) => walletKey(row.account_id, row.currency), this.journal);
    this.posted = new TrackedTable('posted transaction', (row) => row.transaction.id, this.journal);
  }

  /** The rows of a table the batch read or writes (created on first use). */
  table<R extends object>(spec: TableSpec<R>): TrackedTable<R> {
    let table = this.tables.get(spec as TableSpec<never>);
    if (!table) {
      table = new TrackedTable(spec.table, spec.keyOf as (row: object) => string, this.journal);
      this.tables.set(spec as TableSpec<never>, table);
    }
    return table as unknown as TrackedTable<R>;
  }

  /** A table only if some operation touched it. */
  touched<R extends object>(spec: TableSpec<R>): TrackedTable<R> | undefined {
    return this.tables.get(spec as TableSpec<never>) as TrackedTable<R> | undefined;
  }

  get accounts(): TrackedTable<AccountRecord> {
    return this.table(ACCOUNTS);
  }

  get wallets(): TrackedTable<WalletRecord> {
    return this.table(WALLETS);
  }

  get holds(): TrackedTable<HoldRecord> {
    return this.table(HOLDS);
  }

  get transactions(): TrackedTable<TransactionRecord> {
    return this.table(TRANSACTIONS);
  }

  get entries(): TrackedTable<EntryRecord> {
    return this.table(ENTRIES);
  }

  get idempotency(): TrackedTable<IdempotencyRecord> {
    return this.table(IDEMPOTENCY_KEYS);
  }

  get now_ms(): number {
    return Date.parse(this.now);
  }

  /** A player account the batch locked, or undefined if it does not exist; asking for one it did not read is a bug. */
  account(id: string): AccountRecord | undefined {
    const account = this.accounts.get(id);
    if (account || this.missing_accounts.has(id)) return account;
    throw new InvariantViolation(`account ${id} was not in the needs of any operation of the batch`);
  }
}
