import { randomUUID } from 'node:crypto';
import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import type { Unit } from '../../batch/unit.js';
import { guardInflow } from '../../compliance/wallet-guard.js';
import { newWallet, walletKey, type Metadata } from '../../ledger/ledger-records.js';
import { requireAccount } from '../../ledger/posting.js';
import type { AppDeps } from '../../platform/deps.js';
import type { KycSettings } from '../../platform/wallet-config.js';
import { TOPUPS } from './topup-records.js';
import { topupView, type PspProvider, type Topup } from './topup-repository.js';

export interface TopupRequest {
  account_id: string;
  amount: number;
  currency: string;
  metadata?: Metadata;
}

/** A PENDING pay-in: the wallet is credited only when the PSP confirms it (POST /v1/psp/events). */
export async function createTopup(
  deps: AppDeps,
  actor: Actor,
  input: TopupRequest,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  return deps.writes.request(
    {
      name: 'create_topup',
      region: (await deps.directory.regionOf(input.account_id)) ?? deps.region,
      needs: { accounts: [input.account_id], obligations: [input.account_id] },
      // A new top-up has no PSP events yet.
      decide: (unit) => topupView(insertPendingTopup(unit, input, 'generic', deps.config.limits.kyc), []),
    },
    idempotency,
  );
}

/**
 * A new PENDING top-up of an existing player account; no money moves until the PSP confirms. A
 * closed account takes none, and one that would take the wallet over its KYC tier's maximum
 * balance is refused before the player pays, counting the top-ups being paid now (the batch reads
 * them: Needs.obligations): three opened at once up to the maximum were all paid at the PSP, two
 * of them then held for review. One the stuck-top-up worker has flagged (abandoned, most likely,
 * after TOPUP_PENDING_TIMEOUT_SECONDS) no longer counts.
 */
export function insertPendingTopup(unit: Unit, input: TopupRequest, psp_provider: PspProvider, kyc: KycSettings): Topup {
  const account = requireAccount(unit, input.account_id);
  const wallet = unit.wallets.get(walletKey(account.id, input.currency)) ?? newWallet(account, input.currency, unit.now);
  const being_paid_minor = unit
    .table(TOPUPS)
    .all()
    .filter((topup) => topup.account_id === account.id && topup.currency === input.currency && topup.status === 'PENDING')
    .filter((topup) => topup.reconciliation_required_at === null)
    .reduce((sum, topup) => sum + topup.amount_minor, 0);
  const counted = { ...wallet, balance_minor: wallet.balance_minor + being_paid_minor };
  guardInflow(account, counted, 'topup', counted.balance_minor + input.amount, true, kyc);
  return unit.table(TOPUPS).insert({
    id: randomUUID(),
    account_id: input.account_id,
    amount_minor: input.amount,
    currency: input.currency,
    status: 'PENDING',
    psp_payment_id: null,
    psp_provider,
    stripe_payment_intent_id: null,
    stripe_client_secret: null,
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
}
