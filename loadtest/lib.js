// Shared helpers for the creditshop k6 scripts (k6 >= 0.48; only built-in k6 modules, no remote imports).
import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import { check } from 'k6';
import { Rate } from 'k6/metrics';

// The development secrets of src/platform/config.ts: public, and refused by the server in production.
const DEVELOPMENT_JWT_SECRET = 'creditshop-development-jwt-secret-not-for-production';
const DEVELOPMENT_PSP_SECRET = 'creditshop-development-psp-secret-not-for-production';

export const JWT_SECRET = __ENV.JWT_SECRET || __ENV.AUTH_JWT_SECRET || DEVELOPMENT_JWT_SECRET;
export const PSP_SECRET = __ENV.PSP_SECRET || __ENV.PSP_WEBHOOK_SECRET || DEVELOPMENT_PSP_SECRET;
export const BASE_URLS = (__ENV.BASE_URLS || 'http://127.0.0.1:3001,http://127.0.0.1:3002,http://127.0.0.1:3003')
  .split(',')
  .map((url) => url.trim().replace(/\/+$/, ''))
  .filter((url) => url !== '');
export const CURRENCY = __ENV.CURRENCY || 'EUR';
export const P95_MS = Number(__ENV.P95_MS || 500);
export const P99_MS = Number(__ENV.P99_MS || 1500);
const TOKEN_TTL_SECONDS = Number(__ENV.TOKEN_TTL_SECONDS || 6 * 3600);
const SERVICE_SCOPE = 'accounts:write credits:write admin';

// Verdict of the end-of-test reconciliation (emitted in teardown; thresholds count teardown samples).
export const reconcileOk = new Rate('reconcile_ok');

// --- tokens -------------------------------------------------------------------------------------

function b64url(text) {
  return encoding.b64encode(text, 'rawurl');
}

/** An HS256 JWT: base64url (no padding) header and claims, HMAC-SHA256 signature in base64url too. */
export function signJwt(claims, secret = JWT_SECRET) {
  const signing_input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signing_input}.${crypto.hmac('sha256', secret, signing_input, 'base64rawurl')}`;
}

/** A player token (no scope, sub = account id) or a service token (space-separated scopes). */
export function mintToken(sub, scope) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, iat: now, exp: now + TOKEN_TTL_SECONDS };
  if (scope) claims.scope = scope;
  if (__ENV.JWT_ISSUER) claims.iss = __ENV.JWT_ISSUER;
  if (__ENV.JWT_AUDIENCE) claims.aud = __ENV.JWT_AUDIENCE;
  return signJwt(claims);
}

/** ADMIN_TOKEN if given (e.g. from `npm run token`), else a token minted here with JWT_SECRET. */
export function serviceToken() {
  return __ENV.ADMIN_TOKEN || mintToken('k6-loadtest', SERVICE_SCOPE);
}

// --- PSP ----------------------------------------------------------------------------------------

/** Psp-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> (SPEC §5). */
export function pspSignature(raw_body, secret = PSP_SECRET) {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${crypto.hmac('sha256', secret, `${t}.${raw_body}`, 'hex')}`;
}

// --- run identity, keys, pods -------------------------------------------------------------------

/** A prefix unique to this run: account ids and Idempotency-Keys never collide with earlier runs. */
export function newRunId() {
  return `k6${Date.now().toString(36)}${Math.floor(Math.random() * 46656).toString(36)}`;
}

/** One Idempotency-Key per request: run, scenario, test-wide iteration number, step. */
export function iterationKey(run_id, step) {
  return `${run_id}:${exec.scenario.name}:${exec.scenario.iterationInTest}:${step}`;
}

/** Round-robin over the regional pods by iteration, shifted per step so one flow spans pods. */
export function podFor(offset = 0) {
  return BASE_URLS[(exec.scenario.iterationInTest + offset) % BASE_URLS.length];
}

export function randomInt(min, max) {
  return min + Math.floor(Math.random() * (max - min + 1));
}

// --- HTTP ---------------------------------------------------------------------------------------

export function headers(token, idempotency_key) {
  const result = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (token) result.Authorization = `Bearer ${token}`;
  if (idempotency_key) result['Idempotency-Key'] = idempotency_key;
  return result;
}

/**
 * Tags: `name` groups URLs with ids in the metrics; `op` is a short tag that thresholds select on
 * (e.g. 'http_req_duration{op:order}'). `expect` overrides the expected statuses of this request.
 */
function tags(url, name, op) {
  const result = { name: name || url };
  if (op) result.op = op;
  return result;
}

/** POST a JSON body (null: no body). */
export function postJson(url, body, { token, key, name, op, expect } = {}) {
  const params = { headers: headers(token, key), tags: tags(url, name, op) };
  if (expect) params.responseCallback = expect;
  return http.post(url, body === null ? null : JSON.stringify(body), params);
}

export function getJson(url, { token, name, op } = {}) {
  return http.get(url, { headers: headers(token), tags: tags(url, name, op) });
}

/** The parsed JSON body, or null (k6's res.json() throws on a non-JSON body). */
export function body(res) {
  try {
    return res.json();
  } catch (_error) {
    return null;
  }
}

export function problemCode(res) {
  const parsed = body(res);
  return parsed && typeof parsed === 'object' ? parsed.code : undefined;
}

/** Every response carries X-Region (SPEC §3). k6 canonicalizes header names. */
export function hasRegion(res) {
  return typeof res.headers['X-Region'] === 'string' && res.headers['X-Region'] !== '';
}

/**
 * The thresholds of the mixed scripts: no failed request, every check, a clean reconciliation,
 * p95 and p99 over all requests and p95 of each operation tagged `op`; `extra` adds the script's own.
 */
export function thresholds(ops, extra = {}) {
  const per_op = Object.fromEntries(ops.map((op) => [`http_req_duration{op:${op}}`, [`p(95)<${P95_MS}`]]));
  return {
    http_req_failed: ['rate<0.001'],
    http_req_duration: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    ...per_op,
    checks: ['rate>0.999'],
    reconcile_ok: ['rate==1'],
    ...extra,
  };
}

/** What every setup starts from: the pods and their regions, a service token, and this run's id. */
export function runContext() {
  return { pods: discoverPods(), token: serviceToken(), run_id: newRunId() };
}

/** Fails setup early, with a hint, when a pod is not up; returns the region each pod serves. */
export function discoverPods() {
  return BASE_URLS.map((base) => {
    // Ready, not only up: a pod listens while it still waits for its database.
    const res = http.get(`${base}/ready`, { tags: { name: 'GET /ready' } });
    if (res.status !== 200) {
      throw new Error(
        `${base}/ready answered ${res.status} ${res.error || ''}: is \`npm start\` running? (BASE_URLS=${BASE_URLS.join(',')})`,
      );
    }
    return { base, region: res.headers['X-Region'] };
  });
}

/**
 * The request (for http.request or http.batch) that gives an account the script opened full KYC
 * (tier 2): a server limits unverified accounts (KYC_LIMITS_ENABLED, on by default) far below a
 * load test's volume (tier 0: a balance of 100,000 and 10 transfers an hour in EUR). Needs
 * compliance:write or admin; answered 200.
 */
export function verifyRequest(base, token, id) {
  const url = `${base}/v1/accounts/${id}/kyc`;
  return [
    'PUT',
    url,
    JSON.stringify({ tier: 2, reason: 'k6 load test' }),
    { headers: headers(token), tags: tags(url, 'PUT /v1/accounts/{id}/kyc') },
  ];
}

/** Opens a player account with a service token (accounts:write), homed in `home_region`, with full KYC. */
export function createAccount(base, token, run_id, id, home_region, currency = CURRENCY) {
  const res = postJson(
    `${base}/v1/accounts`,
    { id, currency, home_region },
    { token, key: `${run_id}:setup:account:${id}`, name: 'POST /v1/accounts' },
  );
  if (res.status !== 201) throw new Error(`creating account ${id} in ${home_region} via ${base} answered ${res.status}: ${res.body}`);
  const verified = http.request(...verifyRequest(base, token, id));
  if (verified.status !== 200) throw new Error(`verifying account ${id} answered ${verified.status}: ${verified.body}`);
  return body(verified);
}

/**
 * Teardown: POST /v1/admin/reconcile must answer { ok: true }. The verdict goes into the
 * `reconcile_ok` Rate (threshold rate==1) and a check, so a dirty ledger fails the run.
 */
export function reconcile(token) {
  const res = postJson(`${BASE_URLS[0]}/v1/admin/reconcile`, null, { token, name: 'POST /v1/admin/reconcile' });
  const result = body(res);
  const ok = res.status === 200 && result !== null && result.ok === true;
  reconcileOk.add(ok);
  check(res, { 'reconcile: 200 { ok: true }': () => ok });
  if (ok) {
    console.log('reconciliation: ok, the ledger balances');
  } else {
    console.error(`reconciliation FAILED (${res.status}): ${String(res.body).slice(0, 4000)}`);
  }
  return ok;
}
