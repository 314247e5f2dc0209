import type { TransactionRunner } from '../db/transaction-runner.js';

/**
 * Where accounts live: an account's home region is fixed at creation, so once read it is
 * remembered (bounded; the oldest entries go first). The write path picks an operation's batcher
 * by it before anything else runs, when it batches by home region (CockroachDB); otherwise no
 * operation needs it and nothing is looked up.
 */
export class AccountDirectory {
  private readonly regions = new Map<string, string>();

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly entries_max: number,
    /** Whether operations are placed by their account's home region. */
    private readonly placing: boolean,
  ) {}

  /**
   * The account's home region when operations are placed by it; undefined when they are not, or
   * when there is no such account (not remembered: it may be created).
   */
  async regionOf(account_id: string): Promise<string | undefined> {
    if (!this.placing) return undefined;
    const known = this.regions.get(account_id);
    if (known !== undefined) return known;
    const row = await this.transactions.read((tx) =>
      tx.maybeOne<{ crdb_region: string }>('SELECT crdb_region FROM accounts WHERE id = ?', [account_id]),
    );
    if (row) this.remember(account_id, row.crdb_region);
    return row?.crdb_region;
  }

  remember(account_id: string, region: string): void {
    if (this.regions.size >= this.entries_max) this.regions.delete(this.regions.keys().next().value!);
    this.regions.set(account_id, region);
  }
}
