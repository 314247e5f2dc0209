import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { DomainError } from '../domain/errors.js';

export const SCOPES = ['accounts:write', 'credits:write', 'catalog:write', 'refunds:write', 'admin'] as const;
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
    const subject = payload.sub ?? '';
    if (!SUBJECT_PATTERN.test(subject)) throw new DomainError('unauthenticated', 'token subject is malformed');
    const scope = payload['scope'];
    if (scope !== undefined && typeof scope !== 'string') throw new DomainError('unauthenticated', 'token scope must be a string');
    if (scope === undefined) return { kind: 'player', id: subject, scopes: new Set() };
    return { kind: 'service', id: subject, scopes: new Set(scope.split(' ').filter(Boolean)) };
  } catch (error) {
    if (error instanceof DomainError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new DomainError('unauthenticated', 'token has expired');
    throw new DomainError('unauthenticated', 'token is invalid');
  }
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
