import { hasScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { DomainError, forbidden, notFound } from '../domain/errors.js';
import type { CommandResult, IdempotencyScope } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import { findTransaction, refundedAmount } from './ledger-queries.js';
import { postTransaction, type TransactionType } from './ledger-repository.js';
import { movement } from './postings.js';
import { transactionView, type TransactionView } from './views.js';

const REFUNDABLE_TYPES: ReadonlySet<TransactionType> = new Set(['debit', 'hold_capture']);

/**
 * Returns all or part of a previous spend to the wallet it came from, from the account it went
 * to. Partial refunds repeat until the spend is fully refunded, never beyond: concurrent refunds
 * both read what was refunded, and serializability lets only one of them commit on that read.
 */
export async function refundTransaction(
  deps: AppDeps,
  actor: Actor,
  input: { transaction_id: string; amount?: number; reason?: string },
  idempotency: IdempotencyScope,
): Promise<CommandResult<TransactionView>> {
  if (!hasScope(actor, 'credits:write') && !hasScope(actor, 'refunds:write'))
    throw forbidden('requires scope credits:write or refunds:write');
  const spend = await deps.transactions.read((tx) => findTransaction(tx, input.transaction_id));
  if (!spend) throw notFound(`transaction ${input.transaction_id}`);
  return deps.commands.run(
    'refund_transaction',
    idempotency,
    async (tx, placement) => {
      const original = await findTransaction(tx, input.transaction_id);
      if (!original) throw notFound(`transaction ${input.transaction_id}`);
      if (!REFUNDABLE_TYPES.has(original.type)) throw new DomainError('invalid_state', `a ${original.type} transaction cannot be refunded`);
      const remaining = original.amount_minor - (await refundedAmount(tx, original.id));
      const amount = input.amount ?? remaining;
      if (remaining === 0 || amount > remaining) {
        throw new DomainError('refund_exceeds_remaining', `${remaining} of ${original.amount_minor} is left to refund`, { remaining });
      }
      const sink = original.entries.find((entry) => entry.amount_minor > 0 && entry.currency === original.currency)!;
      const posted = await postTransaction(
        tx,
        {
          type: 'refund',
          account_id: original.account_id,
          currency: original.currency,
          amount_minor: amount,
          reason: input.reason ?? 'refund',
          reference: original.reference ?? null,
          original_transaction_id: original.id,
          postings: movement(sink.account_id, original.account_id, original.currency, amount),
        },
        deps.config.limits,
      );
      placement.region = posted.region;
      return transactionView(posted);
    },
    { contended_accounts: [spend.account_id] },
  );
}
