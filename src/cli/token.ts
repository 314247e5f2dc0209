import { mintToken, SCOPES, SUBJECT_PATTERN } from '../auth/tokens.js';
import { loadConfig } from '../platform/config.js';
import { commandArgs, reportFailures, UsageError, wholeNumber } from './command.js';

// `npm run token -- --sub p-1 [--scope "credits:write"] [--ttl 3600]`: prints a JWT signed with
// AUTH_JWT_SECRET (the development secret unless set). Without --scope it is a player token.
const TTL_MAX_SECONDS = 30 * 24 * 3600;
const USAGE =
  `usage: npm run token -- --sub <account-or-service-id> [--scope "${SCOPES.join(' ')}"] [--ttl seconds]\n` +
  `  --sub: 1 to 128 of A-Z a-z 0-9 _ @ : . -; --ttl: a whole number of seconds, 1 to ${TTL_MAX_SECONDS} (default 3600)`;
reportFailures('token', USAGE);
const { values } = commandArgs(
  { options: { sub: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string', default: '3600' } } },
  USAGE,
);
// A token the service would refuse (a subject it cannot read, no expiry) is never printed.
if (!values.sub || !SUBJECT_PATTERN.test(values.sub)) throw new UsageError('--sub is missing or not a subject the service accepts');
const ttl_s = wholeNumber('ttl', values.ttl, 1, TTL_MAX_SECONDS);
const unknown = (values.scope ?? '').split(' ').filter((scope) => scope && !(SCOPES as readonly string[]).includes(scope));
if (unknown.length > 0) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}; known: ${SCOPES.join(', ')}`);
const config = loadConfig();
const token = await mintToken(
  { sub: values.sub, scope: values.scope, expires_in_seconds: ttl_s },
  { secret: config.auth_jwt_secret, issuer: config.auth_jwt_issuer, audience: config.auth_jwt_audience },
);
process.stdout.write(`${token}\n`);
