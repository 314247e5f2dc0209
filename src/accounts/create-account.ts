import { hasScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { DomainError, forbidden } from '../domain/errors.js';
import type { IdempotencyScope, CommandResult } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import { accountView, insertAccount, insertWallet, type AccountView } from './account-repository.js';

export interface CreateAccountInput {
  id?: string;
  currency?: string;
  home_region?: string;
}

/** A player opens their own account (id = token subject); a service with accounts:write opens any. */
function resolveAccountId(actor: Actor, requested: string | undefined): string {
  if (actor.kind === 'player') {
    if (requested !== undefined && requested !== actor.id) throw forbidden('a player can only create their own account');
    // A player token's subject is already a valid account id (verifyToken refuses any other).
    return actor.id;
  }
  if (!hasScope(actor, 'accounts:write')) throw forbidden('requires scope accounts:write');
  if (requested === undefined) throw new DomainError('validation_error', '"id" is required when a service creates an account');
  return requested;
}

export async function createAccount(
  deps: AppDeps,
  actor: Actor,
  input: CreateAccountInput,
  idempotency: IdempotencyScope,
): Promise<CommandResult<AccountView>> {
  const id = resolveAccountId(actor, input.id);
  const home_region = input.home_region ?? deps.region;
  const currency = input.currency ?? deps.config.default_currency;
  return deps.commands.run('create_account', idempotency, async (tx, placement) => {
    placement.region = home_region;
    const account = await insertAccount(tx, { id, kind: 'player', region: home_region });
    if (!account) throw new DomainError('already_exists', `account ${id} already exists`);
    return accountView(account, [await insertWallet(tx, id, currency, home_region)]);
  });
}
