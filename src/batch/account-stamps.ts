/**
 * Accounts with a time each, the latest `entries_max` marked kept: what a pod remembers of hot or
 * locked accounts stays bounded however many accounts pass through it.
 */
export class AccountStamps {
  private readonly stamps_ms = new Map<string, number>();

  constructor(private readonly entries_max: number) {}

  mark(accounts: Iterable<string>, stamp_ms: number): void {
    for (const account of accounts) {
      this.stamps_ms.delete(account);
      this.stamps_ms.set(account, stamp_ms);
    }
    for (const account of this.stamps_ms.keys()) {
      if (this.stamps_ms.size <= this.entries_max) break;
      this.stamps_ms.delete(account);
    }
  }

  forget(accounts: Iterable<string>): void {
    for (const account of accounts) this.stamps_ms.delete(account);
  }

  /** Those of `accounts` stamped later than `since_ms`. */
  stampedAfter(accounts: readonly string[], since_ms: number): string[] {
    return accounts.filter((account) => (this.stamps_ms.get(account) ?? -Infinity) > since_ms);
  }
}
