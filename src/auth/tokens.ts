import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { DomainError } from '../domain/errors.js';
import { ACCOUNT_ID_PATTERN } from '../domain/ids.js';

export const SCOPES = ['accounts:write', 'credits:write', 'catalog:write', 'refunds:write', 'events:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling: a player (token without scope, sub = account id) or a service (scoped token). */
export interface Actor {
  kind: 'player' | 'service';
  id: string;
  scopes: ReadonlySet<string>;
}

export interface TokenSettings {
  secret: string;
  issuer?: string | undefined;
  audience?: string | undefined;
}

const SUBJECT_PATTERN = /^[A-Za-z0-9_@:.-]{1,128}$/;
const TOKEN_LENGTH_MAX = 8_192;

export async function verifyToken(token: string, settings: TokenSettings): Promise<Actor> {
  if (token.length > TOKEN_LENGTH_MAX) throw new DomainError('unauthenticated', 'bearer token is too long');
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(settings.secret), {
      algorithms: ['HS256'],
      requiredClaims: ['sub', 'exp'],
      ...(settings.issuer ? { issuer: settings.issuer } : {}),
      ...(settings.audience ? { audience: settings.audience } : {}),
    });
    return toActor(payload.sub, payload['scope']);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new DomainError('unauthenticated', 'token has expired');
    throw new DomainError('unauthenticated', 'token is invalid');
  }
}

/**
 * The caller a verified token names. The claims are JSON, so `sub` may be any JSON value: only a
 * string is a subject (a pattern test would turn ["x"] into "x"). A player's subject is their
 * account id, so it must be one; system accounts (`@revenue`) are never players.
 */
function toActor(subject: unknown, scope: unknown): Actor {
  if (typeof subject !== 'string' || !SUBJECT_PATTERN.test(subject)) throw new DomainError('unauthenticated', 'token subject is malformed');
  if (scope !== undefined && typeof scope !== 'string') throw new DomainError('unauthenticated', 'token scope must be a string');
  if (scope !== undefined) return { kind: 'service', id: subject, scopes: new Set(scope.split(' ').filter(Boolean)) };
  if (!ACCOUNT_ID_PATTERN.test(subject)) {
    throw new DomainError('unauthenticated', 'a player token needs an account id as subject (1 to 64 of A-Z, a-z, 0-9, _ and -)');
  }
  return { kind: 'player', id: subject, scopes: new Set() };
}

export async function mintToken(
  claims: { sub: string; scope?: string | undefined; expires_in_seconds: number },
  settings: TokenSettings,
): Promise<string> {
  const jwt = new SignJWT(claims.scope ? { scope: claims.scope } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + claims.expires_in_seconds);
  if (settings.issuer) jwt.setIssuer(settings.issuer);
  if (settings.audience) jwt.setAudience(settings.audience);
  return jwt.sign(new TextEncoder().encode(settings.secret));
}

const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies bearer tokens and remembers the verified ones until they expire: the same token
 * string carries the same signed claims, and a game client sends its token with every request.
 * Bounded; the oldest entries go first.
 */
export class TokenVerifier {
  private readonly verified = new Map<string, { actor: Actor; expires_at_ms: number }>();

  constructor(private readonly settings: TokenSettings) {}

  async verify(token: string): Promise<Actor> {
    const known = this.verified.get(token);
    if (known && known.expires_at_ms > Date.now()) return known.actor;
    if (known) this.verified.delete(token);
    const actor = await verifyToken(token, this.settings);
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { actor, expires_at_ms: expiryOf(token) });
    return actor;
  }
}

/** The `exp` of a token that verifyToken has just accepted (so it is well formed and has one). */
function expiryOf(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
  return payload.exp * 1000;
}
