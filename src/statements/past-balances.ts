import { requireAccountRead } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { int8, type SqlTx } from '../db/sql.js';
import { DomainError, notFound } from '../domain/errors.js';
import { walletBalance, type WalletBalance } from '../domain/money.js';
import type { AppDeps } from '../platform/deps.js';

/**
 * A wallet's posted balance at an instant is the `balance_after` of its last entry at or before
 * it (no replay of the history): entries carry the transaction's timestamp, and an account's
 * entries are numbered in commit order. What was held then is the holds created by then and not
 * yet settled (a hold's row is updated only when it is captured, voided or expires).
 */
const BALANCE_AT = `SELECT e.balance_after_minor FROM ledger_entries e
  WHERE e.account_id = w.account_id AND e.currency = w.currency AND e.account_seq IS NOT NULL AND e.created_at <= CAST(? AS TIMESTAMPTZ)
  ORDER BY e.created_at DESC, e.account_seq DESC LIMIT 1`;

const HELD_AT = `SELECT SUM(h.amount_minor) FROM holds h
  WHERE h.account_id = w.account_id AND h.currency = w.currency AND h.created_at <= CAST(? AS TIMESTAMPTZ)
    AND (h.status = 'ACTIVE' OR h.updated_at > CAST(? AS TIMESTAMPTZ))`;

/** Balances of an account's wallets at `as_of`: the wallets it had then, over one snapshot. */
export async function walletsAsOf(deps: AppDeps, actor: Actor, account_id: string, as_of: string): Promise<WalletBalance[]> {
  requireAccountRead(actor, account_id, 'money');
  return deps.transactions.run('wallets_as_of', (tx) => balancesAt(tx, account_id, as_of), { read_only_snapshot: true });
}

export async function balancesAt(tx: SqlTx, account_id: string, as_of: string): Promise<WalletBalance[]> {
  const account = await tx.maybeOne<{ kind: string }>('SELECT kind FROM accounts WHERE id = ?', [account_id]);
  if (!account) throw notFound(`account ${account_id}`);
  if (account.kind === 'system') throw new DomainError('validation_error', 'balances in the past are kept for player and merchant wallets');
  const rows = await tx.rows<{ currency: string; balance_minor: string | null; held_minor: string | null }>(
    `SELECT w.currency, (${BALANCE_AT}) AS balance_minor, (${HELD_AT}) AS held_minor
     FROM wallets w WHERE w.account_id = ? AND w.created_at <= CAST(? AS TIMESTAMPTZ) ORDER BY w.currency`,
    [as_of, as_of, as_of, account_id, as_of],
  );
  return rows.map((row) =>
    walletBalance(
      row.currency,
      row.balance_minor === null ? 0 : int8(row.balance_minor),
      row.held_minor === null ? 0 : int8(row.held_minor),
    ),
  );
}
