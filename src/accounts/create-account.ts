import { hasScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { DomainError, forbidden } from '../domain/errors.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import { walletBalance } from '../domain/money.js';
import type { AppDeps } from '../platform/deps.js';
import { emitEvent } from '../events/emit.js';

export interface CreateAccountInput {
  id?: string;
  currency?: string;
  home_region?: string;
}

/** A player opens their own account (id = token subject); a service with accounts:write opens any. */
function resolveAccountId(actor: Actor, requested: string | undefined): string {
  if (actor.kind === 'player') {
    if (requested !== undefined && requested !== actor.id) throw forbidden('a player can only create their own account');
    // A player token's subject is already a valid account id (the token verifier refuses any other).
    return actor.id;
  }
  if (!hasScope(actor, 'accounts:write')) throw forbidden('requires scope accounts:write');
  if (requested === undefined) throw new DomainError('validation_error', '"id" is required when a service creates an account');
  return requested;
}

/** Opens an account with its first wallet, both homed in its region, as one batched operation. */
export async function createAccount(
  deps: AppDeps,
  actor: Actor,
  input: CreateAccountInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  const id = resolveAccountId(actor, input.id);
  const home_region = input.home_region ?? deps.region;
  const currency = input.currency ?? deps.config.default_currency;
  const answer = await deps.writes.request(
    {
      name: 'create_account',
      region: home_region,
      needs: { accounts: [id] },
      decide: (unit) => {
        if (unit.account(id)) throw new DomainError('already_exists', `account ${id} already exists`);
        const account = unit.accounts.insert({ id, kind: 'player', region: home_region, entry_seq: 0, created_at: unit.now });
        const wallet = unit.wallets.insert({
          account_id: id,
          currency,
          balance_minor: 0,
          held_minor: 0,
          region: home_region,
          created_at: unit.now,
          updated_at: unit.now,
        });
        const view = {
          id,
          kind: account.kind,
          home_region,
          created_at: account.created_at,
          wallets: [walletBalance(wallet.currency, wallet.balance_minor, wallet.held_minor)],
        };
        emitEvent(unit, { type: 'account.created', account_id: id, data: view });
        return view;
      },
    },
    idempotency,
  );
  if (answer.status === 201) deps.directory.remember(id, home_region);
  return answer;
}
