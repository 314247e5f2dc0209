import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { purgeExpiredKeysTask } from '../../src/idempotency/purge-expired-keys.js';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
let mint: ReturnType<typeof tokens>;
let accounts_writer: string;

beforeAll(async () => {
  cluster = await startCluster();
  mint = tokens(cluster.config);
  accounts_writer = await mint.service('accounts:write', 'game-server');
});
afterAll(() => cluster.stop());

const eu = () => cluster.pod('eu-west').url;
const us = () => cluster.pod('us-east').url;
const ap = () => cluster.pod('ap-south').url;

describe('when a player creates their own account', () => {
  it('then it is homed in the serving region with a wallet, and GET shows it', async () => {
    const id = uniqueId('p');
    const token = await mint.player(id);
    const created = await request(us(), 'POST', '/v1/accounts', { currency: 'GEMS' }, { token, key: uniqueId('k') });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-region')).toBe('us-east');
    expect(created.body).toMatchObject({
      id,
      kind: 'player',
      home_region: 'us-east',
      wallets: [{ currency: 'GEMS', balance: 0, held: 0, available: 0 }],
    });
    const fetched = await request(ap(), 'GET', `/v1/accounts/${id}`, undefined, { token });
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get('cache-control')).toBe('no-store');
    expect(fetched.headers.get('x-region')).toBe('ap-south');
    expect(fetched.body).toEqual(created.body);
    const wallets = await request(eu(), 'GET', `/v1/accounts/${id}/wallets`, undefined, { token });
    expect(wallets.body).toEqual({ data: [{ currency: 'GEMS', balance: 0, held: 0, available: 0 }], next_cursor: null });
  });

  it('then a named home region is honoured', async () => {
    const id = uniqueId('p');
    const created = await request(
      eu(),
      'POST',
      '/v1/accounts',
      { home_region: 'ap-south' },
      { token: await mint.player(id), key: uniqueId('k') },
    );
    expect(created.status).toBe(201);
    expect(created.body.home_region).toBe('ap-south');
    expect(created.body.wallets[0].currency).toBe('EUR');
  });

  it('then creating it again with another key is 409 already_exists', async () => {
    const id = uniqueId('p');
    const token = await mint.player(id);
    expect((await request(eu(), 'POST', '/v1/accounts', {}, { token, key: uniqueId('k') })).status).toBe(201);
    const again = await request(eu(), 'POST', '/v1/accounts', {}, { token, key: uniqueId('k') });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('already_exists');
  });

  it('then a player cannot create or read another player account', async () => {
    const token = await mint.player(uniqueId('p'));
    const other = uniqueId('p');
    const create = await request(eu(), 'POST', '/v1/accounts', { id: other }, { token, key: uniqueId('k') });
    expect(create.status).toBe(403);
    expect(create.body.code).toBe('forbidden');
    await request(eu(), 'POST', '/v1/accounts', { id: other }, { token: accounts_writer, key: uniqueId('k') });
    const read = await request(eu(), 'GET', `/v1/accounts/${other}`, undefined, { token });
    expect(read.status).toBe(404);
    expect(read.body.code).toBe('not_found');
  });
});

describe('idempotency of account creation', () => {
  it('when the same request is replayed through another region, then the first response comes back marked as a replay', async () => {
    const id = uniqueId('svc');
    const key = uniqueId('k');
    const first = await request(eu(), 'POST', '/v1/accounts', { id, currency: 'EUR' }, { token: accounts_writer, key });
    const replay = await request(ap(), 'POST', '/v1/accounts', { currency: 'EUR', id }, { token: accounts_writer, key });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('x-region')).toBe('ap-south');
    expect(replay.body).toEqual(first.body);
  });

  it('when the same key comes with a different body, then 422 idempotency_key_reused and nothing is created', async () => {
    const key = uniqueId('k');
    const id = uniqueId('svc');
    await request(eu(), 'POST', '/v1/accounts', { id }, { token: accounts_writer, key });
    const other_id = uniqueId('svc');
    const reused = await request(eu(), 'POST', '/v1/accounts', { id: other_id }, { token: accounts_writer, key });
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
    expect((await request(eu(), 'GET', `/v1/accounts/${other_id}`, undefined, { token: accounts_writer })).status).toBe(404);
  });

  it('when keys are equal but callers differ, then they do not collide', async () => {
    const key = uniqueId('k');
    const a = uniqueId('p');
    const b = uniqueId('p');
    expect((await request(eu(), 'POST', '/v1/accounts', {}, { token: await mint.player(a), key })).status).toBe(201);
    const second = await request(eu(), 'POST', '/v1/accounts', {}, { token: await mint.player(b), key });
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(b);
  });

  it('when 30 duplicates race over the three pods, then one account exists and every answer is the same', async () => {
    const id = uniqueId('race');
    const key = uniqueId('k');
    const bases = [eu(), us(), ap()];
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        request(
          bases[index % 3]!,
          'POST',
          '/v1/accounts',
          { id, currency: 'GEMS', home_region: 'us-east' },
          { token: accounts_writer, key },
        ),
      ),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
    const created = responses.filter((response) => response.status === 201);
    expect(created.length).toBeGreaterThan(0);
    for (const response of created) expect(response.body).toEqual(created[0]!.body);
    for (const response of responses.filter((r) => r.status === 409)) expect(response.body.code).toBe('idempotency_key_in_flight');
    expect(created.filter((response) => response.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    const wallets = await request(eu(), 'GET', `/v1/accounts/${id}/wallets`, undefined, { token: accounts_writer });
    expect(wallets.body.data).toEqual([{ currency: 'GEMS', balance: 0, held: 0, available: 0 }]);
  });

  it('when the key is missing or malformed, then 400 and nothing is created', async () => {
    const id = uniqueId('svc');
    const missing = await request(eu(), 'POST', '/v1/accounts', { id }, { token: accounts_writer });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('idempotency_key_required');
    const long = await request(eu(), 'POST', '/v1/accounts', { id }, { token: accounts_writer, key: 'x'.repeat(256) });
    expect(long.status).toBe(400);
    expect(long.body.code).toBe('validation_error');
    expect((await request(eu(), 'GET', `/v1/accounts/${id}`, undefined, { token: accounts_writer })).status).toBe(404);
  });
});

describe('bad input never reaches a 500', () => {
  const problem = (response: { status: number; headers: Headers; body: any }, status: number, code: string) => {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts:\d+/);
  };

  it('malformed JSON, unknown fields, wrong types, bad ids and oversized bodies', async () => {
    const key = () => uniqueId('k');
    const token = accounts_writer;
    problem(await request(eu(), 'POST', '/v1/accounts', undefined, { token, key: key(), raw: '{"id": "a",' }), 400, 'validation_error');
    problem(
      await request(eu(), 'POST', '/v1/accounts', { id: uniqueId('a'), colour: 'red' }, { token, key: key() }),
      400,
      'validation_error',
    );
    problem(await request(eu(), 'POST', '/v1/accounts', { id: 42 }, { token, key: key() }), 400, 'validation_error');
    problem(await request(eu(), 'POST', '/v1/accounts', { id: 'white space' }, { token, key: key() }), 400, 'validation_error');
    problem(await request(eu(), 'POST', '/v1/accounts', { id: 'x'.repeat(65) }, { token, key: key() }), 400, 'validation_error');
    problem(
      await request(eu(), 'POST', '/v1/accounts', { id: uniqueId('a'), currency: 'eur' }, { token, key: key() }),
      400,
      'validation_error',
    );
    problem(
      await request(eu(), 'POST', '/v1/accounts', { id: uniqueId('a'), currency: 'XYZ' }, { token, key: key() }),
      400,
      'validation_error',
    );
    problem(
      await request(eu(), 'POST', '/v1/accounts', { id: uniqueId('a'), home_region: 'mars' }, { token, key: key() }),
      400,
      'validation_error',
    );
    problem(await request(eu(), 'POST', '/v1/accounts', [1, 2], { token, key: key() }), 400, 'validation_error');
    problem(
      await request(eu(), 'POST', '/v1/accounts', undefined, { token, key: key(), raw: 'id=1', headers: { 'Content-Type': 'text/plain' } }),
      400,
      'validation_error',
    );
    problem(await request(eu(), 'GET', '/v1/accounts/bad%20id', undefined, { token }), 400, 'validation_error');
    const huge = await request(eu(), 'POST', '/v1/accounts', { id: 'a', pad: 'x'.repeat(70 * 1024) }, { token, key: key() });
    problem(huge, 413, 'validation_error');
    problem(await request(eu(), 'GET', '/v1/nowhere'), 404, 'not_found');
  });

  it('missing, expired, forged, alg:none and wrongly scoped tokens', async () => {
    const path = `/v1/accounts`;
    const body = { id: uniqueId('a') };
    problem(await request(eu(), 'POST', path, body, { key: uniqueId('k') }), 401, 'unauthenticated');
    problem(
      await request(eu(), 'POST', path, body, { key: uniqueId('k'), headers: { Authorization: 'Basic abc' } }),
      401,
      'unauthenticated',
    );
    problem(await request(eu(), 'POST', path, body, { key: uniqueId('k'), token: await mint.player('p-1', -10) }), 401, 'unauthenticated');
    const forged = await new SignJWT({ scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('attacker')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-secret-not-the-secret-not-the-secret'));
    problem(await request(eu(), 'POST', path, body, { key: uniqueId('k'), token: forged }), 401, 'unauthenticated');
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'attacker', scope: 'admin', exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString('base64url')}.`;
    // Signed with the right secret, and still no token this service's issuers make: one that never
    // expires in practice (over AUTH_JWT_LIFETIME_MAX_SECONDS), one issued a day from now, one whose iat is text.
    const secret = new TextEncoder().encode(cluster.config.auth_jwt_secret);
    const now_s = Math.floor(Date.now() / 1000);
    for (const claims of [{ exp: 1e300 }, { exp: now_s + 600, iat: now_s + 86_400 }, { exp: now_s + 600, iat: 'x' }]) {
      const signed = await new SignJWT({ scope: 'accounts:write', ...claims } as Record<string, unknown>)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('game-server')
        .sign(secret);
      problem(await request(eu(), 'POST', path, body, { key: uniqueId('k'), token: signed }), 401, 'unauthenticated');
    }
    const refused = await request(eu(), 'POST', path, body, { key: uniqueId('k'), token: unsigned });
    problem(refused, 401, 'unauthenticated');
    // A 401 names the scheme it wants (RFC 7235 §3.1); the scheme's name is read in any case (§2.1).
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="creditshop"');
    const service = await mint.service('accounts:write');
    const lower = await request(eu(), 'POST', path, body, { key: uniqueId('k'), headers: { Authorization: `bearer ${service}` } });
    expect(lower.status).toBe(201);
    expect(lower.headers.get('www-authenticate')).toBeNull();
    problem(await request(eu(), 'POST', path, body, { key: uniqueId('k'), token: await mint.service('catalog:write') }), 403, 'forbidden');
    problem(
      await request(eu(), 'GET', `/v1/accounts/${body.id}`, undefined, { token: await mint.service('catalog:write') }),
      403,
      'forbidden',
    );
  });
});

describe('operations endpoints', () => {
  it('health, ready, metrics and openapi answer with X-Region', async () => {
    for (const pod of cluster.pods) {
      const health = await request(pod.url, 'GET', '/health');
      expect(health.status).toBe(200);
      expect(health.headers.get('x-region')).toBe(pod.deps.region);
    }
    const ready = await request(eu(), 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    const metrics = await request(eu(), 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('http_request_duration_seconds_bucket');
    expect(metrics.body).toContain('db_transaction_attempts_total');
    expect(metrics.body).toMatch(/db_pool_connections\{[^}]*pool="transactions"[^}]*state="total"[^}]*\} [1-9]/);
  });
});

describe('idempotency retention', () => {
  it('when a key is past its retention, then the purge task deletes it and keeps the others', async () => {
    const deps = cluster.pods[0]!.deps;
    const keys = [uniqueId('k'), uniqueId('k')];
    for (const key of keys) {
      expect((await request(eu(), 'POST', '/v1/accounts', {}, { token: await mint.player(uniqueId('p')), key })).status).toBe(201);
    }
    const stored = () =>
      deps.transactions.read((tx) =>
        tx.rows<{ key: string; hours: number }>(
          'SELECT key, EXTRACT(EPOCH FROM expires_at - created_at) / 3600 AS hours FROM idempotency_keys WHERE key = ANY(?::text[])',
          [keys],
        ),
      );
    expect((await stored()).every((row) => Number(row.hours) >= 24)).toBe(true);
    await deps.transactions.read((tx) =>
      tx.execute("UPDATE idempotency_keys SET expires_at = now() - INTERVAL '1 second' WHERE key = ?", [keys[0]!]),
    );
    await purgeExpiredKeysTask(deps).run();
    expect((await stored()).map((row) => row.key)).toEqual([keys[1]]);
  });
});

describe('rate limits', () => {
  it('when a caller exceeds its rate, then 429 rate_limited with Retry-After, and other callers are not affected', async () => {
    const limited = await startCluster({ env: { RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3' } });
    try {
      const base = limited.pods[0]!.url;
      const greedy = await mint.player(uniqueId('p'));
      // All at once: the bucket refills 2 tokens a second, so however long the twelve take to get
      // through (sent one after another, six took over 0.5 s on a loaded machine and a refilled token
      // let one more through), no more than the burst and what refilled meanwhile pass.
      const sent_ms = Date.now();
      const responses = await Promise.all(
        Array.from({ length: 12 }, () => request(base, 'GET', '/v1/accounts/nobody-here', undefined, { token: greedy })),
      );
      const elapsed_s = (Date.now() - sent_ms) / 1000;
      const statuses = responses.map((response) => response.status).sort();
      const passed = statuses.filter((status) => status === 404).length;
      expect(statuses.filter((status) => status !== 404 && status !== 429)).toEqual([]);
      expect(passed, JSON.stringify({ statuses, elapsed_s })).toBeGreaterThanOrEqual(3);
      expect(passed, JSON.stringify({ statuses, elapsed_s })).toBeLessThanOrEqual(Math.floor(3 + 2 * elapsed_s));
      const limited_response = responses.find((response) => response.status === 429);
      expect(limited_response?.body).toMatchObject({ code: 'rate_limited', status: 429 });
      expect(Number(limited_response!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const polite = await request(base, 'GET', '/v1/accounts/nobody-here', undefined, { token: await mint.player(uniqueId('p')) });
      expect(polite.status).toBe(404);
    } finally {
      await limited.stop();
    }
  });
});

describe('where a replayed account lives', () => {
  it('when a creation is replayed on another pod that batches by home region, then that pod places the account at home', async () => {
    const placing = await startCluster({ env: { BATCH_BY_HOME_REGION: 'on' } });
    try {
      const id = uniqueId('svc');
      const key = uniqueId('k');
      const send = (region: string) =>
        request(placing.pod(region).url, 'POST', '/v1/accounts', { id, currency: 'EUR' }, { token: accounts_writer, key });
      expect((await send('eu-west')).body.home_region).toBe('eu-west');
      expect((await send('ap-south')).headers.get('idempotent-replayed')).toBe('true');
      // It remembered its own region before: every later write of the account there went to the wrong batcher.
      expect(await placing.pod('ap-south').deps.directory.regionOf(id)).toBe('eu-west');
    } finally {
      await placing.stop();
    }
  });
});
