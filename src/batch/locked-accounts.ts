import type { PipelinedStatement } from '../db/pipeline.js';
import { AccountStamps } from './account-stamps.js';

export interface LockedAccountSettings {
  /** How long a batch waits for a row lock another transaction holds (its lock_timeout) before it probes which account it is. */
  lock_wait_max_ms: number;
  /** Accounts remembered at most (the oldest go first). */
  entries_max: number;
}

/** Once found locked, an account is probed before a batch takes it for this many lock waits. */
const SUSPECT_FOR_WAITS = 30;

/**
 * Accounts whose rows another transaction holds locked for longer than a batch may wait: a pod
 * stalled in the middle of its batch (a GC pause, a frozen VM), a session an operator left open. A
 * batcher runs one batch at a time, so a batch waiting on one such account held up every other
 * account of the pod until the statement timeout, batch after batch. A batch now waits at most
 * BATCH_LOCK_WAIT_MAX_MS (its lock_timeout), learns which accounts are locked (a probe that waits
 * for nothing), answers their operations 503 (retry with the same key) and commits the others;
 * later batches probe such an account first, until it is found free.
 */
export class LockedAccounts {
  /** Account → when it was last found locked. */
  private readonly found: AccountStamps;

  constructor(private readonly settings: LockedAccountSettings) {
    this.found = new AccountStamps(settings.entries_max);
  }

  get lock_timeout(): PipelinedStatement {
    // SET takes no parameter: the value is an integer of the configuration.
    return { name: 'batch_lock_timeout', text: `SET LOCAL lock_timeout = '${this.settings.lock_wait_max_ms}ms'`, values: [] };
  }

  markLocked(accounts: Iterable<string>): void {
    this.found.mark(accounts, Date.now());
  }

  markFree(accounts: Iterable<string>): void {
    this.found.forget(accounts);
  }

  /** Found locked lately: probed before a batch waits on them. */
  suspectsAmong(accounts: readonly string[]): string[] {
    return this.found.stampedAfter(accounts, Date.now() - SUSPECT_FOR_WAITS * this.settings.lock_wait_max_ms);
  }
}

/**
 * Which of `accounts` another transaction holds locked now, in one round trip that waits for
 * nothing: the rows a batch locks or updates (the account, its wallets) that exist but SKIP LOCKED
 * leaves out. Sent outside any transaction, the pipeline is one implicit transaction ended by its
 * Sync: the locks it takes of the free rows go with it.
 */
export const LOCK_PROBE = (accounts: readonly string[]): PipelinedStatement[] => [
  { name: 'probe_accounts', text: 'SELECT id AS account FROM accounts WHERE id = ANY($1::text[])', values: [accounts] },
  {
    name: 'probe_accounts_free',
    text: 'SELECT id AS account FROM accounts WHERE id = ANY($1::text[]) FOR UPDATE SKIP LOCKED',
    values: [accounts],
  },
  {
    name: 'probe_wallets',
    text: 'SELECT account_id AS account, currency FROM wallets WHERE account_id = ANY($1::text[])',
    values: [accounts],
  },
  {
    name: 'probe_wallets_free',
    text: 'SELECT account_id AS account, currency FROM wallets WHERE account_id = ANY($1::text[]) FOR UPDATE SKIP LOCKED',
    values: [accounts],
  },
];

/** The locked accounts of a probe's results. */
export function lockedOf(results: ReadonlyArray<{ rows: Array<Record<string, unknown>> }>): string[] {
  const rowKey = (row: Record<string, unknown>) => `${String(row['account'])}\n${String(row['currency'] ?? '')}`;
  const locked = new Set<string>();
  for (const [all, free] of [
    [results[0]!, results[1]!],
    [results[2]!, results[3]!],
  ] as const) {
    const free_keys = new Set(free.rows.map(rowKey));
    for (const row of all.rows) if (!free_keys.has(rowKey(row))) locked.add(String(row['account']));
  }
  return [...locked];
}
