import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { guardInflow } from '../../compliance/wallet-guard.js';
import { notFound } from '../../domain/errors.js';
import { newWallet, toAccountRecord, toWalletRecord, type Metadata } from '../../ledger/ledger-records.js';
import type { CommandResult, IdempotencyScope } from '../../idempotency/command-runner.js';
import type { AppDeps } from '../../platform/deps.js';
import { insertTopup, topupView, type TopupView } from './topup-repository.js';

/**
 * A PENDING pay-in: the wallet is credited only when the PSP confirms it (POST /v1/psp/events).
 * A closed account takes none, and one that would take the wallet over its KYC tier's maximum
 * balance is refused before the player pays.
 */
export async function createTopup(
  deps: AppDeps,
  actor: Actor,
  input: { account_id: string; amount: number; currency: string; metadata?: Metadata },
  idempotency: IdempotencyScope,
): Promise<CommandResult<TopupView>> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  return deps.commands.run('create_topup', idempotency, async (tx, placement) => {
    const row = await tx.maybeOne<Record<string, unknown>>("SELECT * FROM accounts WHERE id = ? AND kind = 'player'", [input.account_id]);
    if (!row) throw notFound(`account ${input.account_id}`);
    const account = toAccountRecord(row);
    const wallet = await tx.maybeOne<Record<string, unknown>>('SELECT * FROM wallets WHERE account_id = ? AND currency = ?', [
      account.id,
      input.currency,
    ]);
    const current = wallet ? toWalletRecord(wallet) : newWallet(account, input.currency, account.created_at);
    guardInflow(account, current, 'topup', current.balance_minor + input.amount, true, deps.config.limits.kyc);
    placement.region = account.region;
    const topup = await insertTopup(tx, {
      account_id: input.account_id,
      amount_minor: input.amount,
      currency: input.currency,
      metadata: input.metadata ?? {},
      region: account.region,
    });
    // A new top-up has no PSP events yet.
    return topupView(topup, []);
  });
}
