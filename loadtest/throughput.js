// Throughput: the headline figure of BENCHMARKS.md with k6 (k6 >= 0.48). Constant VUs, each a
// player debiting their own wallet with their own token, a fresh Idempotency-Key per request,
// spread over the regional pods. k6's `iterations` rate is the figure (`http_reqs` counts setup too).
//   k6 run loadtest/throughput.js
//   k6 run -e VUS=32 -e DURATION=30s -e ACCOUNTS=1000 loadtest/throughput.js
//   k6 run -e HOT=1 loadtest/throughput.js          # every VU on one wallet
// See loadtest/README.md for every variable and what the thresholds mean.
import http from 'k6/http';
import { check } from 'k6';
import {
  BASE_URLS,
  CURRENCY,
  P99_MS,
  body,
  iterationKey,
  mintToken,
  podFor,
  problemCode,
  randomInt,
  reconcile,
  runContext,
  verifyRequest,
} from './lib.js';

const VUS = Number(__ENV.VUS || 32);
const DURATION = __ENV.DURATION || '30s';
const HOT = __ENV.HOT === '1';
const ACCOUNTS = HOT ? 1 : Number(__ENV.ACCOUNTS || 1000);
const DEBIT_MINOR = 1;
/** Enough for every debit of a long run on one wallet: nothing here should be refused for funds. */
const INITIAL_BALANCE = Number(__ENV.INITIAL_BALANCE || 1_000_000_000);
/** Setup requests sent at once (http.batch). */
const SETUP_BATCH = 50;

http.setResponseCallback(http.expectedStatuses(200, 201));

export const options = {
  scenarios: {
    debits: { executor: 'constant-vus', exec: 'debit', vus: VUS, duration: DURATION },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    'http_req_duration{op:debit}': [`p(99)<${P99_MS}`],
    checks: ['rate>0.999'],
    reconcile_ok: ['rate==1'],
  },
  setupTimeout: '300s',
  teardownTimeout: '120s',
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

function params(token, key, tags) {
  return { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'Idempotency-Key': key }, tags };
}

/** Sends requests SETUP_BATCH at a time; every one must answer `status`. */
function sendAll(requests, what, status = 201) {
  for (let start = 0; start < requests.length; start += SETUP_BATCH) {
    const answers = http.batch(requests.slice(start, start + SETUP_BATCH));
    answers.forEach((res, i) => {
      if (res.status !== status) throw new Error(`${what} ${start + i} answered ${res.status}: ${res.body}`);
    });
  }
}

/** Opens ACCOUNTS accounts homed round-robin in the pods' regions, funds them, and mints each its player token. */
export function setup() {
  const { pods, token, run_id } = runContext();
  const accounts = [];
  for (let i = 0; i < ACCOUNTS; i += 1) accounts.push({ id: `${run_id}-t${i}`, home: pods[i % pods.length] });
  sendAll(
    accounts.map(({ id, home }) => [
      'POST',
      `${home.base}/v1/accounts`,
      JSON.stringify({ id, currency: CURRENCY, home_region: home.region }),
      params(token, `${run_id}:setup:account:${id}`, { name: 'POST /v1/accounts' }),
    ]),
    'opening account',
  );
  // Full KYC: an unverified account's limits (a balance of 100,000 EUR minor units) refuse the funding.
  sendAll(
    accounts.map(({ id, home }) => verifyRequest(home.base, token, id)),
    'verifying account',
    200,
  );
  sendAll(
    accounts.map(({ id, home }) => [
      'POST',
      `${home.base}/v1/accounts/${id}/credits`,
      JSON.stringify({ amount: INITIAL_BALANCE, currency: CURRENCY, reason: 'k6 throughput funding' }),
      params(token, `${run_id}:setup:fund:${id}`, { name: 'POST /v1/accounts/{id}/credits' }),
    ]),
    'funding account',
  );
  console.log(`run ${run_id}: ${VUS} VUs for ${DURATION} on ${ACCOUNTS} wallet(s) over ${BASE_URLS.join(', ')}`);
  return { run_id, token, players: accounts.map(({ id }) => ({ id, token: mintToken(id) })) };
}

export function debit(data) {
  const player = data.players[randomInt(0, data.players.length - 1)];
  const res = http.post(
    `${podFor()}/v1/accounts/${player.id}/debits`,
    JSON.stringify({ amount: DEBIT_MINOR, currency: CURRENCY, reason: 'k6 throughput' }),
    params(player.token, iterationKey(data.run_id, 'debit'), { name: 'POST /v1/accounts/{id}/debits', op: 'debit' }),
  );
  const result = body(res);
  check(res, {
    'debit: 201': (r) => r.status === 201,
    'debit: its own transaction and balance_after': () =>
      result !== null && result.type === 'debit' && result.amount === DEBIT_MINOR && result.balance_after >= 0,
  });
  if (res.status !== 201) console.warn(`debit answered ${res.status} ${problemCode(res) || ''}`);
}

export function teardown(data) {
  reconcile(data.token);
}
