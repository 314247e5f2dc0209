import { DomainError } from '../domain/errors.js';
import type { AccountStatus } from '../ledger/ledger-records.js';

/**
 * Account status rules (SPEC §10), pure. A frozen account may receive money (credits, refunds,
 * returns) but none may leave it by its own doing; a closed account accepts nothing at all and
 * stays readable.
 */
interface StatusOf {
  id: string;
  status: AccountStatus;
}

/** Nothing may change a closed account. `own`: the caller acts on it (else it is the other side: its id is not named). */
export function requireOpen(account: StatusOf, own = true): void {
  if (account.status !== 'closed') return;
  throw new DomainError('account_closed', own ? `account ${account.id} is closed` : 'the receiving account is closed');
}

/** No money may leave a frozen or closed account by its own doing (debits, transfers out, orders, withdrawals, holds). */
export function requireActive(account: StatusOf): void {
  requireOpen(account);
  if (account.status === 'frozen') throw new DomainError('account_frozen', `account ${account.id} is frozen: no money may leave it`);
}

export type StatusAction = 'freeze' | 'unfreeze' | 'close';

/** The status an action leads to, or invalid_state when it does not apply to the current one. */
export function nextStatus(current: AccountStatus, action: StatusAction, id: string): AccountStatus {
  if (current === 'closed') throw new DomainError('account_closed', `account ${id} is closed`);
  if (action === 'freeze') {
    if (current === 'frozen') throw new DomainError('invalid_state', `account ${id} is frozen already`);
    return 'frozen';
  }
  if (action === 'unfreeze') {
    if (current !== 'frozen') throw new DomainError('invalid_state', `account ${id} is not frozen`);
    return 'active';
  }
  return 'closed';
}

/** What an account must be rid of before it closes; each non-empty entry is a reason it cannot. */
export interface Obligations {
  /** Currencies whose wallet is not at zero (balance or held). */
  wallets_not_empty: string[];
  pending_withdrawals: number;
  pending_topups: number;
}

export function assertClosable(id: string, obligations: Obligations): void {
  const reasons = [
    ...obligations.wallets_not_empty.map((currency) => `its ${currency} wallet is not at zero`),
    ...(obligations.pending_withdrawals > 0 ? [`${obligations.pending_withdrawals} withdrawal(s) are pending`] : []),
    ...(obligations.pending_topups > 0 ? [`${obligations.pending_topups} top-up(s) are pending`] : []),
  ];
  if (reasons.length > 0) throw new DomainError('invalid_state', `account ${id} cannot close: ${reasons.join('; ')}`, { reasons });
}
