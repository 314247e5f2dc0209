import { randomUUID } from 'node:crypto';
import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import { guardInflow } from '../../compliance/wallet-guard.js';
import { newWallet, walletKey, type Metadata } from '../../ledger/ledger-records.js';
import { requireAccount } from '../../ledger/posting.js';
import type { AppDeps } from '../../platform/deps.js';
import { TOPUPS } from './topup-records.js';
import { topupView } from './topup-repository.js';

/**
 * A PENDING pay-in: the wallet is credited only when the PSP confirms it (POST /v1/psp/events).
 * A closed account takes none, and one that would take the wallet over its KYC tier's maximum
 * balance is refused before the player pays.
 */
export async function createTopup(
  deps: AppDeps,
  actor: Actor,
  input: { account_id: string; amount: number; currency: string; metadata?: Metadata },
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  return deps.writes.request(
    {
      name: 'create_topup',
      region: (await deps.directory.regionOf(input.account_id)) ?? deps.region,
      needs: { accounts: [input.account_id] },
      decide: (unit) => {
        const account = requireAccount(unit, input.account_id);
        const wallet = unit.wallets.get(walletKey(account.id, input.currency)) ?? newWallet(account, input.currency, unit.now);
        guardInflow(account, wallet, 'topup', wallet.balance_minor + input.amount, true, deps.config.limits.kyc);
        const topup = unit.table(TOPUPS).insert({
          id: randomUUID(),
          account_id: input.account_id,
          amount_minor: input.amount,
          currency: input.currency,
          status: 'PENDING',
          psp_payment_id: null,
          credit_transaction_id: null,
          reversal_transaction_id: null,
          reversed_minor: 0,
          unrecovered_minor: 0,
          reversals: [],
          reconciliation_required_at: null,
          metadata: input.metadata ?? {},
          region: account.region,
          created_at: unit.now,
          updated_at: unit.now,
        });
        // A new top-up has no PSP events yet.
        return topupView(topup, []);
      },
    },
    idempotency,
  );
}
