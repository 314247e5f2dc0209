import { DomainError, forbidden } from '../domain/errors.js';
import type { Actor, Scope } from './tokens.js';

export function hasScope(actor: Actor, scope: Scope): boolean {
  return actor.kind === 'service' && (actor.scopes.has(scope) || actor.scopes.has('admin'));
}

export function requireScope(actor: Actor, scope: Scope): void {
  if (!hasScope(actor, scope)) throw forbidden(`requires scope ${scope}`);
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

/** Reading an account: its owner, or any service with a scope that acts on accounts. */
export function requireAccountRead(actor: Actor, account_id: string): void {
  if (actor.kind === 'player') {
    if (actor.id !== account_id) throw new DomainError('not_found', 'account was not found');
    return;
  }
  const readers: Scope[] = ['accounts:write', 'credits:write', 'refunds:write', 'admin'];
  if (!readers.some((scope) => actor.scopes.has(scope))) throw forbidden('requires a scope that acts on accounts');
}
