import { hasScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { DomainError, forbidden } from '../domain/errors.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import { newWallet, type AccountRecord } from '../ledger/ledger-records.js';
import { walletBalance } from '../domain/money.js';
import type { AppDeps } from '../platform/deps.js';
import { emitEvent } from '../events/emit.js';
import { accountView } from './account-view.js';

export interface CreateAccountInput {
  id?: string;
  currency?: string;
  home_region?: string;
  kind?: 'player' | 'merchant';
  /** A merchant's fee plan: basis points of each payment... */
  fee_bps?: number;
  /** ...and at least this fee, in the payment's minor units (default 0). */
  fee_min?: number;
}

/** A player opens their own account (id = token subject); a service with accounts:write opens any, merchants included. */
function resolveAccountId(actor: Actor, input: CreateAccountInput): string {
  const requested = input.id;
  if (actor.kind === 'player') {
    if (requested !== undefined && requested !== actor.id) throw forbidden('a player can only create their own account');
    if (input.kind === 'merchant') throw forbidden('only a service with accounts:write opens merchant accounts');
    // A player token's subject is already a valid account id (the token verifier refuses any other).
    return actor.id;
  }
  if (!hasScope(actor, 'accounts:write')) throw forbidden('requires scope accounts:write');
  if (requested === undefined) throw new DomainError('validation_error', '"id" is required when a service creates an account');
  return requested;
}

/** The fee plan of a merchant; a player has none (and may not send one). */
function feePlan(input: CreateAccountInput): Pick<AccountRecord, 'fee_bps' | 'fee_min_minor'> {
  if (input.kind !== 'merchant') {
    if (input.fee_bps !== undefined || input.fee_min !== undefined)
      throw new DomainError('validation_error', '"fee_bps" and "fee_min" are for merchant accounts only');
    return { fee_bps: null, fee_min_minor: null };
  }
  if (input.fee_bps === undefined) throw new DomainError('validation_error', 'a merchant account needs "fee_bps"');
  return { fee_bps: input.fee_bps, fee_min_minor: input.fee_min ?? 0 };
}

/** Opens an account with its first wallet, both homed in its region, as one batched operation. */
export async function createAccount(
  deps: AppDeps,
  actor: Actor,
  input: CreateAccountInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  const id = resolveAccountId(actor, input);
  const fees = feePlan(input);
  const home_region = input.home_region ?? deps.region;
  const currency = input.currency ?? deps.config.default_currency;
  const answer = await deps.writes.request(
    {
      name: 'create_account',
      region: home_region,
      needs: { accounts: [id] },
      decide: (unit) => {
        if (unit.account(id)) throw new DomainError('already_exists', `account ${id} already exists`);
        const account = unit.accounts.insert({
          id,
          kind: input.kind ?? 'player',
          status: 'active',
          kyc_tier: 0,
          limit_overrides: {},
          ...fees,
          region: home_region,
          entry_seq: 0,
          created_at: unit.now,
        });
        const wallet = unit.wallets.insert(newWallet(account, currency, unit.now));
        const view = accountView(account, [walletBalance(wallet.currency, wallet.balance_minor, wallet.held_minor)]);
        emitEvent(unit, { type: 'account.created', account_id: id, data: view });
        return view;
      },
    },
    idempotency,
  );
  // Where it lives, as the answer says: a replay on another pod without home_region names the first pod's region.
  if (answer.status === 201) deps.directory.remember(id, (JSON.parse(answer.body) as { home_region: string }).home_region);
  return answer;
}
