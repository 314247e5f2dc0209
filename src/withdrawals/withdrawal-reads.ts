import { isVisibleTo, requireAccountRead, requireReadScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { requireAccountExists } from '../accounts/account-repository.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import type { SqlTx } from '../db/sql.js';
import { notFound } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';
import {
  CALLBACKS_SHOWN_MAX,
  toPayoutEventRecord,
  toWithdrawalRecord,
  type PayoutEventRecord,
  type WithdrawalRecord,
} from './withdrawal-records.js';
import { withdrawalView } from './withdrawal-view.js';

export async function findWithdrawal(tx: SqlTx, id: string): Promise<WithdrawalRecord | undefined> {
  const row = await tx.maybeOne<Record<string, unknown>>('SELECT * FROM withdrawals WHERE id = ?', [id]);
  return row && toWithdrawalRecord(row);
}

export async function findPayoutEvent(tx: SqlTx, id: string): Promise<PayoutEventRecord | undefined> {
  const row = await tx.maybeOne<Record<string, unknown>>('SELECT * FROM payout_events WHERE id = ?', [id]);
  return row && toPayoutEventRecord(row);
}

/** The callbacks a withdrawal's GET shows: those held for review first, then by arrival, at most CALLBACKS_SHOWN_MAX. */
export async function withdrawalEvents(tx: SqlTx, withdrawal_id: string): Promise<PayoutEventRecord[]> {
  const rows = await tx.rows<Record<string, unknown>>(
    'SELECT * FROM payout_events WHERE withdrawal_id = ? ORDER BY review_reason IS NULL, received_at, id LIMIT ?',
    [withdrawal_id, CALLBACKS_SHOWN_MAX],
  );
  return rows.map(toPayoutEventRecord).sort((a, b) => a.received_at.localeCompare(b.received_at));
}

/** A withdrawal with its callbacks and what is held for review: its owner, or a service reading money. */
export async function getWithdrawal(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  return deps.transactions.read(async (tx) => {
    const withdrawal = await findWithdrawal(tx, id);
    if (!withdrawal || !isVisibleTo(actor, withdrawal.account_id)) throw notFound(`withdrawal ${id}`);
    return withdrawalView(withdrawal, await withdrawalEvents(tx, id));
  });
}

/** An account's withdrawals, newest first, paged on the account sequence (commit order). */
export async function listWithdrawals(deps: AppDeps, actor: Actor, account_id: string, page: { limit: number; cursor?: string }) {
  requireAccountRead(actor, account_id, 'money');
  const before = decodeCursor(page.cursor, ['number'])?.[0];
  const rows = await deps.transactions.read(async (tx) => {
    await requireAccountExists(tx, account_id);
    return tx.rows<Record<string, unknown>>(
      `SELECT * FROM withdrawals WHERE account_id = ? ${before === undefined ? '' : 'AND account_seq < ?'}
       ORDER BY account_seq DESC LIMIT ?`,
      [account_id, ...(before === undefined ? [] : [before]), page.limit + 1],
    );
  });
  const withdrawals = rows.map(toWithdrawalRecord);
  const last = withdrawals.length > page.limit ? withdrawals[page.limit - 1] : undefined;
  return {
    data: withdrawals.slice(0, page.limit).map((withdrawal) => withdrawalView(withdrawal)),
    next_cursor: last ? encodeCursor([last.account_seq]) : null,
  };
}
