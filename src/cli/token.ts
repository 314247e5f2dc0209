import { parseArgs } from 'node:util';
import { mintToken, SCOPES } from '../auth/tokens.js';
import { loadConfig } from '../platform/config.js';

// `npm run token -- --sub p-1 [--scope "credits:write"] [--ttl 3600]`: prints a JWT signed with
// AUTH_JWT_SECRET (the development secret unless set). Without --scope it is a player token.
const { values } = parseArgs({
  options: { sub: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string', default: '3600' } },
});
if (!values.sub) {
  console.error(`usage: npm run token -- --sub <account-or-service-id> [--scope "${SCOPES.join(' ')}"] [--ttl seconds]`);
  process.exit(2);
}
const unknown = (values.scope ?? '').split(' ').filter((scope) => scope && !(SCOPES as readonly string[]).includes(scope));
if (unknown.length > 0) {
  console.error(`unknown scope(s): ${unknown.join(', ')}; known: ${SCOPES.join(', ')}`);
  process.exit(2);
}
const config = loadConfig();
const token = await mintToken(
  { sub: values.sub, scope: values.scope, expires_in_seconds: Number(values.ttl) },
  { secret: config.auth_jwt_secret, issuer: config.auth_jwt_issuer, audience: config.auth_jwt_audience },
);
process.stdout.write(`${token}\n`);
