import { DomainError, forbidden } from '../domain/errors.js';
import { ACCOUNT_ID_PATTERN } from '../domain/ids.js';
import type { Actor, Scope } from './tokens.js';

export function hasScope(actor: Actor, scope: Scope): boolean {
  return actor.kind === 'service' && (actor.scopes.has(scope) || actor.scopes.has('admin'));
}

export function requireScope(actor: Actor, scope: Scope): void {
  if (!hasScope(actor, scope)) throw forbidden(`requires scope ${scope}`);
}

/**
 * What a service reads: a player `account` (GET /accounts/{id} and its wallets: the account view
 * carries its wallets), `money`: the history, transactions, transfers, holds, orders,
 * entitlements, top-ups and purchase requests of any account, and every system account, or
 * `events`: the events API (SPEC §11).
 */
export type Readable = 'account' | 'money' | 'events';

/**
 * The one table of which service scope reads what; `admin` reads everything. A scope grants what
 * it says: `accounts:write` creates accounts and reads them, nothing of their money; `catalog:write`
 * reads only the public catalog; `compliance:write` changes tiers, limits and status, and reads
 * accounts with their limits. Players read their own account and money only (see below).
 */
export const READ_SCOPES: Record<Readable, readonly Scope[]> = {
  account: ['accounts:write', 'credits:write', 'refunds:write', 'compliance:write'],
  money: ['credits:write', 'refunds:write'],
  events: ['events:read'],
};

/** A service needs a scope of READ_SCOPES; checked before anything is looked up, so a 403 reveals nothing. */
export function requireReadScope(actor: Actor, readable: Readable): void {
  if (actor.kind === 'player') return;
  const scopes = READ_SCOPES[readable];
  if (!scopes.some((scope) => hasScope(actor, scope)))
    throw forbidden(`reading ${readable === 'account' ? 'accounts' : readable} requires scope ${scopes.join(' or ')}`);
}

/**
 * A player acts only on their own account; a service needs the scope. A player asking for
 * another player's account gets 404, not 403, so account ids cannot be probed.
 */
export function requireAccountAccess(actor: Actor, account_id: string, service_scope: Scope): void {
  if (actor.kind === 'player') {
    if (actor.id !== account_id) throw new DomainError('not_found', 'account was not found');
    return;
  }
  requireScope(actor, service_scope);
}

/** Reading an account or its money: its owner, or a service whose scope reads it (a system account is money). */
export function requireAccountRead(actor: Actor, account_id: string, readable: Readable): void {
  requireReadScope(actor, ACCOUNT_ID_PATTERN.test(account_id) ? readable : 'money');
  if (actor.kind === 'player' && actor.id !== account_id) throw new DomainError('not_found', 'account was not found');
}

/**
 * Whether the actor sees a money object (hold, order, top-up, ...) of an account, once
 * requireReadScope has let a service through: a player sees only their own (404 otherwise).
 */
export function isVisibleTo(actor: Actor, owner_account_id: string): boolean {
  return actor.kind === 'service' || actor.id === owner_account_id;
}
