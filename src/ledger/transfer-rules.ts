import { DomainError } from '../domain/errors.js';

/** The recipient's wallet in the transfer's currency as the transaction reads it; undefined when there is none. */
export interface RecipientWallet {
  balance_minor: number;
}

/**
 * A player receives a transfer only in a currency they already hold a wallet for (a transfer
 * never opens one: a typo in the currency must not strand money in a wallet its owner never
 * asked for; services with credits:write still open wallets by crediting), and only up to the
 * wallet maximum. The sender learns only that the recipient cannot receive it: never the
 * recipient's wallet, balance or cap.
 */
export function assertRecipientCanReceive(
  wallet: RecipientWallet | undefined,
  transfer: { currency: string; amount_minor: number },
  balance_max_minor: number,
): void {
  if (!wallet) throw new DomainError('currency_mismatch', `the recipient cannot receive ${transfer.currency}`);
  if (wallet.balance_minor + transfer.amount_minor > balance_max_minor) {
    throw new DomainError('invalid_state', 'the recipient cannot receive this amount');
  }
}
