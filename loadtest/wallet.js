// Wallet load test: credits, debits and transfers across the regional pods (k6 >= 0.48).
//   k6 run loadtest/wallet.js
//   k6 run -e RATE=40 -e DURATION=2m -e ACCOUNTS=60 loadtest/wallet.js
// See loadtest/README.md for every variable and what the thresholds mean.
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import {
  BASE_URLS,
  CURRENCY,
  body,
  createAccount,
  getJson,
  hasRegion,
  iterationKey,
  podFor,
  postJson,
  problemCode,
  randomInt,
  reconcile,
  runContext,
  thresholds,
} from './lib.js';

const ACCOUNTS = Number(__ENV.ACCOUNTS || 30);
const INITIAL_BALANCE = Number(__ENV.INITIAL_BALANCE || 100000); // minor units per account
const RATE = Number(__ENV.RATE || 10); // iterations per second of the credits and transfers scenarios; debits run at 2x
const DURATION = __ENV.DURATION || '1m';
const MAX_VUS = Number(__ENV.MAX_VUS || 50);

// Only 200/201 are expected by default; debits and transfers may also end in 409 insufficient_funds,
// a definite (correct) answer, so those requests use their own callback. The checks still verify that
// a 409 is insufficient_funds and nothing else.
http.setResponseCallback(http.expectedStatuses(200, 201));
const MOVE_EXPECTED = http.expectedStatuses(201, 409);

const insufficientFunds = new Counter('insufficient_funds');
const noOverdraft = new Rate('no_overdraft');

function arrival(exec, rate) {
  const preallocated = Math.max(2, Math.ceil(rate / 2));
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: preallocated,
    // k6 refuses a scenario whose maxVUs is below its preAllocatedVUs (a high RATE).
    maxVUs: Math.max(MAX_VUS, preallocated),
  };
}

export const options = {
  scenarios: {
    credits: arrival('credits', RATE),
    debits: arrival('debits', RATE * 2),
    transfers: arrival('transfers', RATE),
  },
  thresholds: thresholds(['credit', 'debit', 'transfer'], { no_overdraft: ['rate==1'] }),
  setupTimeout: '120s',
  teardownTimeout: '120s',
};

/** Opens ACCOUNTS accounts homed round-robin in the pods' regions (through another region's pod) and funds them. */
export function setup() {
  const { pods, token, run_id } = runContext();
  const accounts = [];
  for (let i = 0; i < ACCOUNTS; i += 1) {
    const home = pods[i % pods.length];
    const via = pods[(i + 1) % pods.length].base;
    const id = `${run_id}-w${i}`;
    createAccount(via, token, run_id, id, home.region);
    const res = postJson(
      `${home.base}/v1/accounts/${id}/credits`,
      { amount: INITIAL_BALANCE, currency: CURRENCY, reason: 'k6 initial funding' },
      { token, key: `${run_id}:setup:fund:${id}`, name: 'POST /v1/accounts/{id}/credits' },
    );
    if (res.status !== 201) throw new Error(`funding ${id} answered ${res.status}: ${res.body}`);
    accounts.push({ id, region: home.region });
  }
  console.log(
    `run ${run_id}: ${ACCOUNTS} accounts over ${pods.map((pod) => `${pod.region} (${pod.base})`).join(', ')}, ` +
      `${INITIAL_BALANCE} ${CURRENCY} each`,
  );
  return { run_id, token, accounts };
}

function pickAccount(data) {
  return data.accounts[randomInt(0, data.accounts.length - 1)];
}

export function credits(data) {
  const account = pickAccount(data);
  const amount = randomInt(1, 500);
  const res = postJson(
    `${podFor()}/v1/accounts/${account.id}/credits`,
    { amount, currency: CURRENCY, reason: 'k6 credit' },
    { token: data.token, key: iterationKey(data.run_id, 'credit'), name: 'POST /v1/accounts/{id}/credits', op: 'credit' },
  );
  const result = body(res);
  check(res, {
    'credit: 201': (r) => r.status === 201,
    'credit: amount and balance_after': () => result !== null && result.amount === amount && result.balance_after > 0,
    'credit: X-Region': hasRegion,
  });
}

export function debits(data) {
  const account = pickAccount(data);
  const amount = randomInt(1, 1000);
  const res = postJson(
    `${podFor()}/v1/accounts/${account.id}/debits`,
    { amount, currency: CURRENCY, reason: 'k6 debit' },
    {
      token: data.token,
      key: iterationKey(data.run_id, 'debit'),
      name: 'POST /v1/accounts/{id}/debits',
      op: 'debit',
      expect: MOVE_EXPECTED,
    },
  );
  const result = body(res);
  if (res.status === 409) insufficientFunds.add(1);
  check(res, {
    'debit: 201 or 409 insufficient_funds': (r) => r.status === 201 || (r.status === 409 && problemCode(r) === 'insufficient_funds'),
    'debit: balance_after never negative': (r) => r.status !== 201 || (result !== null && result.balance_after >= 0),
    'debit: X-Region': hasRegion,
  });
}

export function transfers(data) {
  const from = pickAccount(data);
  let to = pickAccount(data);
  while (to.id === from.id) to = pickAccount(data);
  const amount = randomInt(1, 500);
  const res = postJson(
    `${podFor()}/v1/transfers`,
    { from_account_id: from.id, to_account_id: to.id, amount, currency: CURRENCY, note: `k6 ${from.region} -> ${to.region}` },
    { token: data.token, key: iterationKey(data.run_id, 'transfer'), name: 'POST /v1/transfers', op: 'transfer', expect: MOVE_EXPECTED },
  );
  const result = body(res);
  if (res.status === 409) insufficientFunds.add(1);
  check(res, {
    'transfer: 201 or 409 insufficient_funds': (r) => r.status === 201 || (r.status === 409 && problemCode(r) === 'insufficient_funds'),
    'transfer: COMPLETED with the amount': (r) =>
      r.status !== 201 || (result !== null && result.status === 'COMPLETED' && result.amount === amount),
    'transfer: X-Region': hasRegion,
  });
}

/** Every wallet: available = balance - held, and never below 0; then the whole ledger must reconcile. */
export function teardown(data) {
  for (const account of data.accounts) {
    const res = getJson(`${BASE_URLS[0]}/v1/accounts/${account.id}/wallets`, { token: data.token, name: 'GET /v1/accounts/{id}/wallets' });
    const result = body(res);
    const wallet = result && Array.isArray(result.data) ? result.data.find((entry) => entry.currency === CURRENCY) : undefined;
    const ok =
      res.status === 200 &&
      wallet !== undefined &&
      wallet.available >= 0 &&
      wallet.held >= 0 &&
      wallet.available === wallet.balance - wallet.held;
    noOverdraft.add(ok);
    if (!ok) console.error(`wallet of ${account.id} breaks the no-overdraft invariant: ${res.status} ${res.body}`);
  }
  reconcile(data.token);
}
