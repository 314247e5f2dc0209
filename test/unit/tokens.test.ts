import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { mintToken, TokenVerifier } from '../../src/auth/tokens.js';

// Tokens are signed here with jose, an implementation independent of the verifier's (fast-jwt).
const SECRET = 'a-test-secret-of-at-least-thirty-two-characters';
const settings = { secret: SECRET, issuer: 'creditshop', audience: 'game' };
const now_s = () => Math.floor(Date.now() / 1000);

function signed(claims: Record<string, unknown>, header: { alg: string } = { alg: 'HS256' }, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(new TextEncoder().encode(secret));
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

function refusal(verifier: TokenVerifier, token: string): string {
  try {
    verifier.verify(token);
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
  return 'accepted';
}

describe('bearer tokens', () => {
  it('accepts what the service mints: a player, a service with its scopes', async () => {
    const verifier = new TokenVerifier(settings);
    expect(verifier.verify(await mintToken({ sub: 'p-1', expires_in_seconds: 60 }, settings))).toEqual({
      kind: 'player',
      id: 'p-1',
      scopes: new Set(),
    });
    const service = verifier.verify(
      await mintToken({ sub: 'game-server', scope: 'credits:write admin', expires_in_seconds: 60 }, settings),
    );
    expect(service).toEqual({ kind: 'service', id: 'game-server', scopes: new Set(['credits:write', 'admin']) });
  });

  it('refuses every token it did not sign, or whose claims do not hold, as unauthenticated', async () => {
    const verifier = new TokenVerifier(settings);
    const good = { sub: 'p-1', iss: 'creditshop', aud: 'game', exp: now_s() + 60 };
    const cases: Record<string, string> = {
      'another secret': await signed(good, { alg: 'HS256' }, 'another-secret-of-at-least-thirty-two-chars'),
      'HS512 with the same secret': await signed(good, { alg: 'HS512' }),
      expired: await signed({ ...good, exp: now_s() - 10 }),
      'no exp': await signed({ sub: 'p-1', iss: 'creditshop', aud: 'game' }),
      'exp as a string': await signed({ ...good, exp: String(now_s() + 60) }),
      'no sub': await signed({ iss: 'creditshop', aud: 'game', exp: now_s() + 60 }),
      'sub as an array': await signed({ ...good, sub: ['p-1'] }),
      'another issuer': await signed({ ...good, iss: 'someone-else' }),
      'another audience': await signed({ ...good, aud: 'someone-else' }),
      'no issuer (one is configured)': await signed({ sub: 'p-1', aud: 'game', exp: now_s() + 60 }),
      'no audience (one is configured)': await signed({ sub: 'p-1', iss: 'creditshop', exp: now_s() + 60 }),
      'not valid before an hour from now': await signed({ ...good, nbf: now_s() + 3600 }),
      'scope as a list': await signed({ ...good, scope: ['admin'] }),
      'a system account as a player': await signed({ ...good, sub: '@revenue' }),
      'unsigned (alg none)': `${base64url({ alg: 'none' })}.${base64url(good)}.`,
      'signature cut short': (await signed(good)).slice(0, -4),
      'not a JWT': 'hello',
      'over 8 KiB': `${'a'.repeat(8_200)}.b.c`,
    };
    for (const [name, token] of Object.entries(cases)) expect(refusal(verifier, token), name).toMatch(/^unauthenticated: /);
    expect(refusal(verifier, await signed({ ...good, exp: now_s() - 10 }))).toMatch(/^unauthenticated: .*token has expired/);
    expect(refusal(verifier, await signed(good))).toBe('accepted');
  });

  it('forgets a remembered token once it expires', async () => {
    const verifier = new TokenVerifier(settings);
    const token = await mintToken({ sub: 'p-1', expires_in_seconds: 1 }, settings);
    expect(verifier.verify(token).id).toBe('p-1');
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(refusal(verifier, token)).toMatch(/^unauthenticated: .*token has expired/);
  });
});
