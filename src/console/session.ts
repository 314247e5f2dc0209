// The service token the console signs in with: kept in sessionStorage (gone with the tab), read
// here only to decide what to show. The API checks the token on every call; these claims are unverified.

const TOKEN_KEY = 'creditshop.console.token';

export type Capability = 'read_accounts' | 'read_money' | 'read_events' | 'credit' | 'refund' | 'void_hold' | 'compliance' | 'admin';

/** Which scopes grant what the console offers (src/auth/access.ts READ_SCOPES and the routes' scopes); admin implies all. */
const GRANTS: Record<Capability, readonly string[]> = {
  read_accounts: ['accounts:write', 'credits:write', 'refunds:write', 'compliance:write'],
  read_money: ['credits:write', 'refunds:write'],
  read_events: ['events:read'],
  credit: ['credits:write'],
  refund: ['refunds:write'],
  void_hold: ['credits:write'],
  /** Freeze and unfreeze, KYC tier, status history, AML review flags. */
  compliance: ['compliance:write'],
  admin: [],
};

export interface Session {
  token: string;
  subject: string;
  scopes: ReadonlySet<string>;
  expires_at_ms: number;
  can(capability: Capability): boolean;
}

function claimsOf(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims: unknown = JSON.parse(json);
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A session for a pasted token, or why the console cannot use it. */
export function sessionFor(token: string): Session | string {
  const claims = claimsOf(token.trim());
  if (!claims) return 'This is not a JWT (three base64url parts separated by dots).';
  if (typeof claims['scope'] !== 'string') return 'This is a player token: the console needs a service token with scopes.';
  const expires_at_ms = typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : 0;
  if (expires_at_ms <= Date.now()) return 'This token has expired.';
  const scopes = new Set(claims['scope'].split(' ').filter(Boolean));
  return {
    token: token.trim(),
    subject: String(claims['sub']),
    scopes,
    expires_at_ms,
    can: (capability) => scopes.has('admin') || GRANTS[capability].some((scope) => scopes.has(scope)),
  };
}

export function storedSession(): Session | undefined {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const session = token ? sessionFor(token) : undefined;
  if (typeof session === 'string') sessionStorage.removeItem(TOKEN_KEY);
  return typeof session === 'object' ? session : undefined;
}

export function keepSession(session: Session): void {
  sessionStorage.setItem(TOKEN_KEY, session.token);
}

export function endSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
