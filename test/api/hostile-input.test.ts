import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, tokens, uniqueId, type ApiResponse, type TestCluster } from '../support/cluster.js';
import { expectProblem } from '../support/shop.js';

// Issue 8, items 11 and 13: hostile and careless input is refused at the edge with a problem+json
// and a stable code, never a 500, and changes nothing.

let cluster: TestCluster;
let mint: ReturnType<typeof tokens>;
let service: string;
let admin: string;
let catalog: string;

beforeAll(async () => {
  cluster = await startCluster();
  mint = tokens(cluster.config);
  service = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
  catalog = await mint.service('catalog:write', 'back-office');
});
afterAll(() => cluster.stop());

const eu = () => cluster.pod('eu-west').url;
const us = () => cluster.pod('us-east').url;
const key = () => uniqueId('k');

async function player(balance: number) {
  const id = uniqueId('p');
  expect((await request(eu(), 'POST', '/v1/accounts', { id }, { token: service, key: key() })).status).toBe(201);
  if (balance > 0) {
    const seed = { amount: balance, currency: 'EUR', reason: 'seed' };
    expect((await request(eu(), 'POST', `/v1/accounts/${id}/credits`, seed, { token: service, key: key() })).status).toBe(201);
  }
  return { id, token: await mint.player(id) };
}

/** Balance and history length of a player: what "changes nothing" means for a wallet. */
async function snapshot(account_id: string) {
  const wallets = await request(eu(), 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
  const history = await request(eu(), 'GET', `/v1/accounts/${account_id}/transactions?limit=200`, undefined, { token: service });
  return { wallets: wallets.body.data, entries: history.body.data.length };
}

async function expectReconcileClean() {
  const report = await request(eu(), 'POST', '/v1/admin/reconcile', undefined, { token: admin });
  expect(report.body).toEqual({ ok: true, mismatches: [] });
}

/** Sends `text` on a raw connection, reads until the server closes it: the status, content type and problem code. */
function rawExchange(base: string, text: string): Promise<{ status: number; type: string | undefined; code: string | undefined }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => {
      const [head = '', body = ''] = received.split('\r\n\r\n');
      const json = body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1);
      const code = json === '' ? undefined : (JSON.parse(json) as { code?: string }).code;
      resolve({ status: Number(head.split(' ')[1]), type: /content-type: ([^;\r\n]+)/i.exec(head)?.[1], code });
    });
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to ${text.split('\r\n')[0]}`)));
  });
}

/** A JSON value nested `levels` deep: {"a":{"a":...1...}}. */
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

function expectRefusedText(response: ApiResponse, label: string) {
  expectProblem(response, 400, 'validation_error');
  expect(response.body.detail, label).toMatch(/cannot be stored/);
}

describe('item 11: text the database cannot store, anywhere in a request', () => {
  it('when U+0000 or a lone surrogate is in any body string (values, keys, at any depth), then 400 and nothing moves', async () => {
    const payer = await player(10_000);
    const payee = await player(0);
    const before = await snapshot(payer.id);
    const credit = (body: Record<string, unknown>) =>
      request(us(), 'POST', `/v1/accounts/${payer.id}/credits`, body, { token: service, key: key() });
    const movement = { amount: 100, currency: 'EUR', reason: 'bonus' };
    expectRefusedText(await credit({ ...movement, reason: 'nul \u0000 byte' }), 'U+0000 in reason');
    expectRefusedText(await credit({ ...movement, reason: 'half a pair \ud800' }), 'high surrogate in reason');
    expectRefusedText(await credit({ ...movement, reference: '\udfff' }), 'low surrogate in reference');
    expectRefusedText(await credit({ ...movement, ['reason\u0000']: 'x' }), 'U+0000 in a key');
    const transfer = (note: string) =>
      request(
        eu(),
        'POST',
        '/v1/transfers',
        { from_account_id: payer.id, to_account_id: payee.id, amount: 5, currency: 'EUR', note },
        { token: payer.token, key: key() },
      );
    expectRefusedText(await transfer('gg\u0000'), 'U+0000 in note');
    expectRefusedText(await transfer('\ud83d'), 'lone surrogate in note');
    const order = await request(
      eu(),
      'POST',
      '/v1/orders',
      { account_id: payer.id, lines: [{ item_id: 'skin-x', quantity: 1, ['\ud800']: { deeper: ['ok', 'not \u0000 ok'] } }] },
      { token: payer.token, key: key() },
    );
    expectRefusedText(order, 'deep in an order line');
    // The offending text is never echoed back; only where it was.
    expect(JSON.stringify(order.body)).not.toMatch(/\\u0000|\\ud800/i);
    expect(order.body.errors).toEqual([{ path: 'lines[0]', message: expect.stringMatching(/cannot be stored/) }]);
    const item = await request(
      eu(),
      'PUT',
      `/v1/items/${uniqueId('item')}`,
      { name: 'Helm\u0000', kind: 'skin', price: 1, currency: 'EUR', active: true, refundable: true },
      { token: catalog },
    );
    expectRefusedText(item, 'catalog name');
    // Well-formed pairs (an emoji) are ordinary text.
    // Bytes that are not UTF-8 (Latin-1 "café") would be read as U+FFFD: stored other than sent.
    const latin1 = Buffer.from(JSON.stringify({ ...movement, reason: 'caf#' }), 'latin1');
    latin1[latin1.indexOf('#')] = 0xe9;
    const not_utf8 = await request(eu(), 'POST', `/v1/accounts/${payer.id}/debits`, undefined, {
      token: payer.token,
      key: key(),
      raw: latin1,
    });
    expectProblem(not_utf8, 400, 'validation_error');
    expect(not_utf8.body.detail).toBe('request body is not valid UTF-8');
    expect((await credit({ ...movement, reason: 'gg \ud83c\udf89' })).status).toBe(201);
    // Limits count characters, as /openapi.json's maxLength and PostgreSQL do, not UTF-16 units:
    // 200 emoji are a reason of 200 characters; 201 are one too many.
    expect((await credit({ ...movement, reason: '\u{1F389}'.repeat(200) })).status).toBe(201);
    const long = await credit({ ...movement, reason: '\u{1F389}'.repeat(201) });
    expectProblem(long, 400, 'validation_error');
    expect(long.body.errors).toEqual([{ path: 'reason', message: '"reason" must be at most 200 characters' }]);
    const after = await snapshot(payer.id);
    expect(after.entries).toBe(before.entries + 2);
    expect(after.wallets[0].balance).toBe(before.wallets[0].balance + 200);
    expect((await snapshot(payee.id)).entries).toBe(0);
    await expectReconcileClean();
  });

  it('when U+0000 is in a path or query parameter, then 400 before any route or schema reads it', async () => {
    const { id, token } = await player(1);
    expectRefusedText(await request(eu(), 'GET', '/v1/items/helm%00'), 'path of a public route');
    expectRefusedText(await request(eu(), 'GET', `/v1/accounts/${id}%00`, undefined, { token }), 'path of a bearer route');
    expectRefusedText(await request(eu(), 'GET', '/v1/items?cursor=%00'), 'query of a public route');
    // A route that takes no query: the edge refuses the text before the route refuses the parameter.
    expectRefusedText(await request(eu(), 'GET', `/v1/accounts/${id}?whatever=a%00b`, undefined, { token }), 'unread query');
    const unread = await request(eu(), 'GET', `/v1/accounts/${id}?whatever=a%00b`, undefined, { token });
    expect(unread.body.detail).toMatch(/query parameter "whatever"/);
  });

  it('when a route that takes no query or no body is given one, then 400 and nothing changes', async () => {
    const { id, token } = await player(1);
    // Both were answered as if absent: a misspelt parameter or field went unnoticed (SPEC §4: unknown fields are 400).
    const refused = [
      await request(eu(), 'GET', `/v1/accounts/${id}?whatever=fine`, undefined, { token }),
      await request(eu(), 'POST', '/v1/admin/reconcile', { unknown_field: 1 }, { token: admin }),
      await request(eu(), 'POST', '/v1/admin/reconcile', 'just a string', { token: admin }),
      await request(eu(), 'POST', '/v1/admin/reconcile?dry_run=true', undefined, { token: admin }),
    ];
    for (const response of refused) expectProblem(response, 400, 'validation_error');
    expect((await request(eu(), 'GET', `/v1/accounts/${id}`, undefined, { token })).status).toBe(200);
    expect((await request(eu(), 'POST', '/v1/admin/reconcile', {}, { token: admin })).status).toBe(200);
  });

  it('when an instant is outside 0001-9999 in UTC or its date does not exist, then 400 wherever instants are taken', async () => {
    const { id, token } = await player(1);
    const instants = [
      '0000-01-01T00:00:00Z',
      '0001-01-01T00:30:00+01:00', // year 0 once in UTC
      '+010000-01-01T00:00:00Z',
      '-000001-01-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
    ].map(encodeURIComponent);
    for (const at of instants) {
      const asked: Array<[string, string]> = [
        [`/v1/accounts/${id}/wallets?as_of=${at}`, token],
        [`/v1/accounts/${id}/statement?currency=EUR&from=${at}&to=2026-01-01T00:00:00Z`, token],
        [`/v1/admin/reports/large-transactions?from=${at}&to=2026-01-01T00:00:00Z&currency=EUR&threshold=1`, admin],
        // Before it was refused here, this one took the pod down (the stream's error had no listener).
        [`/v1/admin/exports/transactions?from=${at}&to=2026-01-01T00:00:00Z`, admin],
        [`/v1/events?created_after=${at}`, admin],
        [`/v1/events?account_id=${id}&created_before=${at}`, admin],
      ];
      for (const [path, bearer] of asked)
        expectProblem(await request(us(), 'GET', path, undefined, { token: bearer }), 400, 'validation_error');
    }
    expect((await request(us(), 'GET', '/health')).status).toBe(200);
  });

  it('when a cursor is forged (an id of the wrong type, U+0000, an instant out of range), then 400 on every list', async () => {
    const { id, token } = await player(1);
    const cursor = (...key: unknown[]) => Buffer.from(JSON.stringify([1, ...key])).toString('base64url');
    const forged = [
      cursor('2026-12-02T00:00:00Z', 'a\u0000'),
      cursor('0000-01-01T00:00:00Z', '00000000-0000-0000-0000-000000000000'),
      cursor('2026-02-30T00:00:00Z', '00000000-0000-0000-0000-000000000000'),
    ];
    const not_uuid = cursor('2026-12-02T00:00:00Z', 'zzz');
    const range = 'from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z';
    // [list, token, whether its ids are UUIDs (a text id may be anything storable)]
    const lists: Array<[string, string, boolean]> = [
      [`/v1/accounts/${id}/holds?`, token, true],
      [`/v1/accounts/${id}/topups?`, token, true],
      [`/v1/accounts/${id}/purchase-requests?`, token, true],
      ['/v1/admin/review/purchase-requests?', admin, true],
      ['/v1/admin/review-flags?', admin, true],
      [`/v1/admin/reports/large-transactions?${range}&currency=EUR&threshold=1&`, admin, true],
      ['/v1/events?', admin, true],
      ['/v1/webhook-endpoints?', admin, true],
      ['/v1/admin/review/psp-events?', admin, false],
      ['/v1/items?', admin, false],
      ['/v1/sellers?', admin, false],
    ];
    for (const [list, bearer, uuid_ids] of lists) {
      for (const bad of uuid_ids ? [...forged, not_uuid] : forged) {
        const answer = await request(us(), 'GET', `${list}cursor=${bad}`, undefined, { token: bearer });
        expect(answer.status, `${list} ${bad}`).toBe(400);
        expectProblem(answer, 400, 'validation_error');
      }
    }
    const statement = `/v1/accounts/${id}/statement?currency=EUR&${range}&cursor=${cursor('0000-01-01T00:00:00Z', 6)}`;
    expectProblem(await request(us(), 'GET', statement, undefined, { token }), 400, 'validation_error');
  });

  it('when a body is nested deeper than BODY_DEPTH_MAX (32), then 400 before anything recursive reads it; 32 levels pass', async () => {
    const { id, token } = await player(1000);
    const before = await snapshot(id);
    const raw = (body: string) => request(eu(), 'POST', `/v1/accounts/${id}/debits`, undefined, { token, key: key(), raw: body });
    // 6,000 levels overflowed the stack of the request fingerprint (recursive) before it was bounded.
    const hostile = await raw(`{"amount":1,"currency":"EUR","reason":"x","reference":${nested(6_000)}}`);
    expectProblem(hostile, 400, 'validation_error');
    expect(hostile.body.detail).toMatch(/^request body "reference(\.a){31}" is nested deeper than 32 levels$/);
    const arrays = await raw(`{"amount":1,"currency":"EUR","reason":"x","x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`);
    expectProblem(arrays, 400, 'validation_error');
    expect(arrays.body.detail).toMatch(/nested deeper than 32 levels/);
    // The root object is level 1: 31 more levels are 32 in all, and joi then judges the field.
    const at_limit = await raw(`{"amount":1,"currency":"EUR","reason":"x","reference":${nested(31)}}`);
    expectProblem(at_limit, 400, 'validation_error');
    expect(at_limit.body.detail).toMatch(/"reference" must be a string/);
    expect((await raw(`{"amount":1,"currency":"EUR","reason":"x","reference":${nested(32)}}`)).body.detail).toMatch(/nested deeper/);
    expect(await snapshot(id)).toEqual(before);
    expect((await request(eu(), 'GET', '/health')).status).toBe(200);
  });
});

describe('item 13: reserved keys are unknown fields, in every body and query', () => {
  it('when "__proto__", "constructor" or "prototype" is a body field at any depth, then 400 and nothing is created', async () => {
    const bodies = [
      ['top-level __proto__', (id: string) => `{"id":"${id}","__proto__":{"currency":"GEMS"}}`],
      ['__proto__ null', (id: string) => `{"id":"${id}","__proto__":null}`],
      ['constructor', (id: string) => `{"id":"${id}","constructor":{"prototype":{"admin":true}}}`],
      ['prototype', (id: string) => `{"id":"${id}","prototype":1}`],
    ] as const;
    for (const [label, body] of bodies) {
      const id = uniqueId('proto');
      const response = await request(eu(), 'POST', '/v1/accounts', undefined, { token: service, key: key(), raw: body(id) });
      expectProblem(response, 400, 'validation_error');
      expect(response.body.detail, label).toMatch(/^"(__proto__|constructor|prototype)" is not allowed/);
      expectProblem(await request(eu(), 'GET', `/v1/accounts/${id}`, undefined, { token: service }), 404, 'not_found');
    }
    const { id, token } = await player(1000);
    const nested_line = await request(eu(), 'POST', '/v1/orders', undefined, {
      token,
      key: key(),
      raw: `{"account_id":"${id}","lines":[{"item_id":"skin-x","quantity":1,"__proto__":{"quantity":1000}}]}`,
    });
    expectProblem(nested_line, 400, 'validation_error');
    expect(nested_line.body.errors).toEqual([{ path: 'lines[0]', message: '"__proto__" is not allowed (in request body "lines[0]")' }]);
    expectProblem(await request(eu(), 'GET', '/v1/items?__proto__=x'), 400, 'validation_error');
  });
});

/** A request with any method, including those fetch refuses to send (TRACE). */
function rawMethod(base: string, method: string, path: string): Promise<{ status: number; allow: string | undefined; body: any }> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(`${base}${path}`, { method }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, allow: response.headers.allow, body: JSON.parse(text) }));
    });
    call.on('error', reject);
    call.end();
  });
}

describe('item 13: a method a path does not have', () => {
  it('when Node would answer by itself (CONNECT, an unknown Expect, no Host), then problem+json like any bad request', async () => {
    const connected = await rawExchange(eu(), 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(connected).toMatchObject({ status: 405, type: 'application/problem+json', code: 'validation_error' });
    const expecting = await rawExchange(eu(), 'GET /v1/items HTTP/1.1\r\nHost: x\r\nExpect: x-unknown\r\n\r\n');
    expect(expecting).toMatchObject({ status: 417, type: 'application/problem+json', code: 'validation_error' });
    const hostless = await rawExchange(eu(), 'GET /v1/items HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(hostless).toMatchObject({ status: 400, type: 'application/problem+json', code: 'validation_error' });
    expect((await rawExchange(eu(), 'GET /v1/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
  });

  it('when a body is JSON but not an object (null, an array, a number), then 400 even where every field is optional', async () => {
    const payer = await player(1_000);
    const hold = { account_id: payer.id, amount: 100, currency: 'EUR', expires_in_seconds: 60 };
    const created = await request(eu(), 'POST', '/v1/holds', hold, { token: admin, key: key() });
    expect(created.status).toBe(201);
    for (const raw of ['null', '[]', '1', '"x"']) {
      const captured = await request(eu(), 'POST', `/v1/holds/${created.body.id}/capture`, undefined, { token: admin, key: key(), raw });
      expectProblem(captured, 400, 'validation_error');
    }
    expect((await request(eu(), 'GET', `/v1/holds/${created.body.id}`, undefined, { token: admin })).body.status).toBe('ACTIVE');
  });

  it('when a number has more digits than can be read exactly (1.0000000000000000000001 would be read as 1), then 400', async () => {
    const payer = await player(1_000);
    const before = await snapshot(payer.id);
    const debit = (amount: string) =>
      request(eu(), 'POST', `/v1/accounts/${payer.id}/debits`, undefined, {
        token: payer.token,
        key: key(),
        raw: `{"amount":${amount},"currency":"EUR","reason":"x"}`,
      });
    for (const amount of ['1.0000000000000000000001', '0.99999999999999999999', '100000000000000000000001e-22']) {
      expectProblem(await debit(amount), 400, 'validation_error');
    }
    expect(await snapshot(payer.id)).toEqual(before);
    // Written differently, a whole number is still one.
    expect((await debit('1.0')).status).toBe(201);
    expect((await debit('1e1')).status).toBe(201);
  });

  it('when a UUID in a path or query is in upper case, then it names the same object (RFC 9562); in a body it is 400', async () => {
    const payer = await player(1_000);
    const raw = '{"amount":5,"currency":"EUR","reason":"x"}';
    const debit = await request(eu(), 'POST', `/v1/accounts/${payer.id}/debits`, undefined, { token: payer.token, key: key(), raw });
    expect(debit.status).toBe(201);
    const upper = await request(eu(), 'GET', `/v1/transactions/${debit.body.id.toUpperCase()}`, undefined, { token: payer.token });
    expect([upper.status, upper.body]).toEqual([200, debit.body]);
    // A retry that names it in the other case is the same request: its first answer, not 422 key reused.
    const refund = (id: string, refund_key: string) =>
      request(eu(), 'POST', `/v1/transactions/${id}/refunds`, { amount: 2, reason: 'r' }, { token: admin, key: refund_key });
    const refund_key = key();
    const refunded = await refund(debit.body.id, refund_key);
    expect(refunded.status).toBe(201);
    const retried = await refund(debit.body.id.toUpperCase(), refund_key);
    expect([retried.status, retried.headers.get('idempotent-replayed'), retried.text]).toEqual([201, 'true', refunded.text]);
    const body = { endpoint_id: randomUUID().toUpperCase() };
    const redeliver = await request(eu(), 'POST', `/v1/events/${randomUUID()}/redeliver`, body, { token: admin, key: key() });
    expectProblem(redeliver, 400, 'validation_error');
  });

  it('when an object names a field twice (JSON.parse would keep the last), then 400 naming it, nothing changed', async () => {
    const payer = await player(50_000);
    const before = await snapshot(payer.id);
    const debit = (raw: string) =>
      request(eu(), 'POST', `/v1/accounts/${payer.id}/debits`, undefined, { token: payer.token, key: key(), raw });
    for (const [raw, name] of [
      ['{"amount":1,"amount":40000,"currency":"EUR","reason":"x"}', 'amount'],
      [String.raw`{"amount":1,"currency":"EUR","reason":"x","\u0061mount":40000}`, 'amount'],
      ['{"amount":1,"currency":"EUR","reason":"x","metadata":{"a":[{"k":1,"k":2}]}}', 'k'],
    ]) {
      const refused = await debit(raw!);
      expectProblem(refused, 400, 'validation_error');
      expect(refused.body.detail).toBe(`a name appears twice in one object of the request body: "${name}"`);
    }
    expect(await snapshot(payer.id)).toEqual(before);
    // The same name in different objects, in arrays, and as a value, is no repetition.
    const fine = await request(eu(), 'POST', '/v1/webhook-endpoints', undefined, {
      token: admin,
      key: key(),
      raw: '{"url":"http://127.0.0.1:4999/b","description":"url","enabled_events":["hold.created","x"],"x":{"url":{"url":1}}}',
    });
    expectProblem(fine, 400, 'validation_error');
    expect(fine.body.detail).not.toMatch(/twice/);
    expect((await debit('{"amount":1,"currency":"EUR","reason":"amount","metadata":{"amount":"a","currency":"b"}}')).status).toBe(201);
  });

  it('when a body holds a long array of bad items, then a short 400: arrays are bounded, at most 20 errors listed', async () => {
    const { id, token } = await player(1);
    const events = `{"url":"http://127.0.0.1:4999/b","enabled_events":[${Array(32_700).fill('0').join(',')}]}`;
    const endpoint = await request(eu(), 'POST', '/v1/webhook-endpoints', undefined, { token: admin, key: key(), raw: events });
    expectProblem(endpoint, 400, 'validation_error');
    expect(endpoint.body.detail).toBe('request body "enabled_events" holds more than 1000 items');
    // Under the bound, every item is judged but only 20 errors are listed (46 MB were answered before).
    const lines = `{"account_id":"${id}","lines":[${Array(900).fill('{}').join(',')}]}`;
    const order = await request(eu(), 'POST', '/v1/orders', undefined, { token, key: key(), raw: lines });
    expectProblem(order, 400, 'validation_error');
    expect(order.body.errors.length).toBeLessThanOrEqual(20);
    expect(order.body.detail).toMatch(/; and \d+ more$/);
    expect(order.text.length).toBeLessThan(10_000);
  });

  it('when a JSON body is compressed or declared in another charset, then 400 and nothing moves (it would be misread)', async () => {
    const payer = await player(1_000);
    const before = await snapshot(payer.id);
    const debit = (headers: Record<string, string>) =>
      request(
        eu(),
        'POST',
        `/v1/accounts/${payer.id}/debits`,
        { amount: 1, currency: 'EUR', reason: 'x' },
        {
          token: payer.token,
          key: key(),
          headers: { 'Content-Type': 'application/json', ...headers },
        },
      );
    expectProblem(await debit({ 'Content-Encoding': 'x-foo' }), 400, 'validation_error');
    expectProblem(await debit({ 'Content-Type': 'application/json; charset=latin1' }), 400, 'validation_error');
    expect(await snapshot(payer.id)).toEqual(before);
    expect((await debit({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Encoding': 'identity' })).status).toBe(201);
  });

  it('when DELETE, PATCH or another method hits an existing path, then 405 problem+json with Allow; unknown paths stay 404', async () => {
    const { id, token } = await player(1);
    const deleted = await request(eu(), 'DELETE', `/v1/accounts/${id}`, undefined, { token });
    expectProblem(deleted, 405, 'validation_error');
    expect(deleted.headers.get('allow')).toBe('HEAD, GET');
    expect(deleted.body.detail).toBe(`DELETE is not allowed on /v1/accounts/${id}; allowed: HEAD, GET`);
    const patched = await request(eu(), 'PATCH', '/v1/items/skin-x', { price: 1 }, { token: catalog });
    expectProblem(patched, 405, 'validation_error');
    expect(patched.headers.get('allow')).toBe('HEAD, GET, PUT');
    const posted = await request(eu(), 'POST', '/v1/items', { name: 'x' }, { token: catalog });
    expectProblem(posted, 405, 'validation_error');
    expect(posted.headers.get('allow')).toBe('HEAD, GET');
    const traced = await rawMethod(eu(), 'TRACE', '/v1/transfers');
    expect({ status: traced.status, allow: traced.allow, code: traced.body.code }).toEqual({
      status: 405,
      allow: 'POST',
      code: 'validation_error',
    });
    const nowhere = await request(eu(), 'DELETE', '/v1/nowhere');
    expectProblem(nowhere, 404, 'not_found');
    expect(nowhere.headers.get('allow')).toBeNull();
    expect((await rawMethod(eu(), 'TRACE', '/v1/nowhere')).status).toBe(404);
    // Nothing was deleted.
    expect((await request(eu(), 'GET', `/v1/accounts/${id}`, undefined, { token })).status).toBe(200);
  });
});

describe('item 13: seller base_url with credentials', () => {
  it('when a seller base_url carries user:pass@ (or any userinfo), a non-http(s) scheme or no usable port: 400, never stored', async () => {
    const id = uniqueId('seller');
    const seller = (base_url: string) => ({ base_url, rate_limit_per_minute: 60, timeout_ms: 1000, supports_holds: true, active: false });
    for (const base_url of [
      'http://user:secret@127.0.0.1:9/shop',
      'https://token@sellers.example.com',
      'http://@127.0.0.1:9',
      'ftp://sellers.example.com',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'http://sellers.example.com:99999',
      'http://127.0.0.1:0/shop',
    ]) {
      const response = await request(eu(), 'PUT', `/v1/sellers/${id}`, seller(base_url), { token: admin });
      expectProblem(response, 400, 'validation_error');
      expect(JSON.stringify(response.body), base_url).not.toMatch(/secret|token@/);
    }
    expectProblem(await request(eu(), 'GET', `/v1/sellers/${id}`, undefined, { token: admin }), 404, 'not_found');
    const stored = await request(eu(), 'PUT', `/v1/sellers/${id}`, seller('http://127.0.0.1:9/shop?x=a@b'), { token: admin });
    expect(stored.status).toBe(201);
    expect(stored.body.base_url).toBe('http://127.0.0.1:9/shop?x=a@b');
  });
});
