import { isVisibleTo, requireAccountRead, requireReadScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { DomainError, notFound } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';
import { readAccountPage } from '../accounts/account-pages.js';
import { newestFirstPage } from '../db/keyset-page.js';
import { toHoldRecord, type HoldStatus } from './ledger-records.js';
import { findHold, findTransaction, listHistory, type MetadataFilter } from './ledger-queries.js';
import type { PostedTransaction } from './posting.js';
import { holdView, transactionView, transferView, type TransactionView } from './views.js';

/** A ledger transaction, visible to services and to the players whose accounts it touches. */
export async function getTransaction(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const posted = await deps.transactions.read((tx) => findTransaction(tx, id));
  if (!posted || !touches(actor, posted)) throw notFound(`transaction ${id}`);
  return actor.kind === 'player' ? playerTransactionView(transactionView(posted), actor.id) : transactionView(posted);
}

/** What a player may see of a transaction: its legs, but only their own balances, never another player's. */
export function playerTransactionView(view: TransactionView, player_id: string): TransactionView {
  return {
    ...view,
    balance_after: view.account_id === player_id ? view.balance_after : null,
    entries: view.entries.map((entry) =>
      entry.account_id === player_id ? entry : { account_id: entry.account_id, currency: entry.currency, amount: entry.amount },
    ),
  };
}

/** A transaction is visible to services that read money and to the players whose accounts it touches. */
function touches(actor: Actor, posted: PostedTransaction): boolean {
  return posted.entries.some((entry) => isVisibleTo(actor, entry.account_id));
}

export async function getTransfer(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const posted = await deps.transactions.read((tx) => findTransaction(tx, id));
  if (posted?.type !== 'transfer' || !touches(actor, posted)) throw notFound(`transfer ${id}`);
  return transferView(posted);
}

export async function getHold(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const hold = await deps.transactions.read((tx) => findHold(tx, id));
  if (!hold || !isVisibleTo(actor, hold.account_id)) throw notFound(`hold ${id}`);
  return holdView(hold);
}

export async function accountHistory(
  deps: AppDeps,
  actor: Actor,
  account_id: string,
  page: { limit: number; cursor?: string; currency?: string; metadata?: MetadataFilter },
) {
  requireAccountRead(actor, account_id, 'money');
  return deps.transactions.read(async (tx) => {
    const account = await tx.maybeOne<{ kind: string }>('SELECT kind FROM accounts WHERE id = ?', [account_id]);
    if (!account) throw notFound(`account ${account_id}`);
    // Its entries carry no history number: the list was always empty. The export has them.
    if (account.kind === 'system') {
      throw new DomainError('validation_error', "histories are kept for player and merchant accounts; export a system account's entries");
    }
    return listHistory(tx, account_id, page);
  });
}

/** An account's holds, newest first; `status` narrows them (ACTIVE: what is held right now). */
export async function accountHolds(
  deps: AppDeps,
  actor: Actor,
  account_id: string,
  page: { limit: number; cursor?: string; status?: HoldStatus },
) {
  return readAccountPage(deps, actor, account_id, 'list_holds', async (tx) => {
    const { rows, next_cursor } = await newestFirstPage<{ id: string }>(
      tx,
      {
        columns: '*',
        table: 'holds',
        condition: page.status ? 'account_id = ? AND status = ?' : 'account_id = ?',
        params: page.status ? [account_id, page.status] : [account_id],
        time_column: 'created_at',
        id_type: 'uuid',
      },
      page,
    );
    return { data: rows.map((row) => holdView(toHoldRecord(row))), next_cursor };
  });
}
