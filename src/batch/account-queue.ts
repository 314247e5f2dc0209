import type { PipelinedStatement } from '../db/pipeline.js';

export interface AccountQueueSettings {
  /** How long an account stays hot after a batch touching it lost a serialization conflict. */
  hot_ms: number;
  /** Hot accounts remembered at most (the oldest go first). */
  entries_max: number;
  /** A session holding queue locks that waits this long for its next statement outside a transaction is ended by the server. */
  idle_timeout_ms: number;
}

/** Advisory locks of the queue are (this namespace, hashtext(account id)): apart from any other user of advisory locks. */
const QUEUE_LOCK_NAMESPACE = 0x63726564;

/**
 * Every queue lock the batch's session holds, released in the round trip that commits or rolls
 * back, and the session's idle bound back to the server's.
 */
export const QUEUE_RELEASE: readonly PipelinedStatement[] = [
  { name: 'queue_release', text: 'SELECT pg_advisory_unlock_all()', values: [] },
  { name: 'queue_idle_reset', text: 'RESET idle_session_timeout', values: [] },
];

/**
 * PostgreSQL only: batches of several pods on one hot account take turns instead of aborting each
 * other. On PostgreSQL a serializable transaction's snapshot is taken at its first statement, so a
 * row lock it waits for does not save it: when the holder commits, the waiter fails with 40001,
 * and the pod whose next batch starts first wins again and again. A batch touching an account
 * that recently lost such a conflict therefore first takes the account's session-level advisory
 * lock on its own connection, before its transaction begins, so its snapshot contains the previous
 * holder's commit. The lock is released in the same pipeline as the holder's COMMIT, so the next
 * pod's waiting batch starts the moment the commit is done, without a round trip of the holder's
 * in between. Correctness never depends on it (on CockroachDB, where a locking read refreshes
 * instead of failing, it is off): it only turns retries into waits.
 */
export class AccountQueue {
  private readonly hot_until_ms = new Map<string, number>();

  constructor(private readonly settings: AccountQueueSettings) {}

  markHot(accounts: Iterable<string>): void {
    const until = Date.now() + this.settings.hot_ms;
    for (const account of accounts) {
      this.hot_until_ms.delete(account);
      this.hot_until_ms.set(account, until);
    }
    for (const account of this.hot_until_ms.keys()) {
      if (this.hot_until_ms.size <= this.settings.entries_max) break;
      this.hot_until_ms.delete(account);
    }
  }

  hotAmong(accounts: readonly string[]): string[] {
    const now = Date.now();
    return accounts.filter((account) => (this.hot_until_ms.get(account) ?? 0) > now);
  }

  /**
   * Waits until no batch of another pod (or batcher) holds any of `accounts`, then holds them for
   * the session: run on the batch's connection outside its transaction, released by QUEUE_RELEASE.
   * Every batch takes its locks in account order, so two batches never wait for each other. Until
   * its transaction begins the session is idle outside one, where idle_in_transaction_session_timeout
   * does not reach: idle_session_timeout bounds it, so a pod stalled there frees the accounts.
   */
  lock(accounts: readonly string[]): PipelinedStatement[] {
    return [
      {
        name: 'queue_idle_bound',
        text: "SELECT set_config('idle_session_timeout', $1, false)",
        values: [String(this.settings.idle_timeout_ms)],
      },
      {
        name: 'queue_lock',
        text: 'SELECT pg_advisory_lock($1::int4, hashtext(account)) FROM unnest($2::text[]) WITH ORDINALITY AS q(account, n) ORDER BY n',
        values: [QUEUE_LOCK_NAMESPACE, [...new Set(accounts)].sort()],
      },
    ];
  }
}
