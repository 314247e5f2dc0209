import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type ApiResponse } from '../support/cluster.js';
import { key, startEventWorld, type EventWorld } from '../support/events.js';
import { expectProblem } from '../support/shop.js';

// Bad input is 400 problem+json and changes nothing; endpoints are admin's; events are for
// events:read (or admin) and for a player, only their own. No pod delivers here (no background
// work), so endpoints may name any host; private addresses are refused as in production.

let world: EventWorld;
const ENDPOINT = 'https://hooks.example.com/creditshop';

beforeAll(async () => {
  world = await startEventWorld(
    { WEBHOOK_PRIVATE_URLS: 'refuse', WEBHOOK_ENDPOINTS_MAX: '3', WEBHOOK_SECRETS_ACTIVE_MAX: '2', WEBHOOK_DESCRIPTION_LENGTH_MAX: '100' },
    { workers: false },
  );
});
afterAll(async () => {
  await world?.stop();
});

const base = () => world.urls[0]!;
const create = (body: unknown, token = world.admin, idempotency_key = key()) =>
  request(base(), 'POST', '/v1/webhook-endpoints', body, { token, key: idempotency_key });
const endpointCount = async () =>
  Number((await world.db.query<{ count: string }>('SELECT count(*) AS count FROM webhook_endpoints')).rows[0]!.count);

describe('webhook endpoints: bad input', () => {
  it.each([
    ['an unknown event type', { url: ENDPOINT, enabled_events: ['order.shipped'] }],
    ['no event type', { url: ENDPOINT, enabled_events: [] }],
    ['a repeated event type', { url: ENDPOINT, enabled_events: ['hold.created', 'hold.created'] }],
    ['event types that are not strings', { url: ENDPOINT, enabled_events: [42] }],
    ['an ftp URL', { url: 'ftp://hooks.example.com/x', enabled_events: ['*'] }],
    ['no URL at all', { url: 'hooks.example.com/x', enabled_events: ['*'] }],
    ['a URL with credentials', { url: 'https://user:secret@hooks.example.com/x', enabled_events: ['*'] }],
    ['a URL with an empty userinfo', { url: 'https://@hooks.example.com/x', enabled_events: ['*'] }],
    ['credentials behind a third slash', { url: 'http:///alice:secret@hooks.example.com/x', enabled_events: ['*'] }],
    ['a loopback URL', { url: 'http://127.0.0.1:4300/hooks', enabled_events: ['*'] }],
    ['a private URL', { url: 'http://10.1.2.3/hooks', enabled_events: ['*'] }],
    ['a link-local URL', { url: 'http://169.254.169.254/latest', enabled_events: ['*'] }],
    ['an IPv6 loopback URL', { url: 'http://[::1]/hooks', enabled_events: ['*'] }],
    ['localhost', { url: 'http://localhost:3000/hooks', enabled_events: ['*'] }],
    ['an oversized URL', { url: `${ENDPOINT}/${'a'.repeat(2100)}`, enabled_events: ['*'] }],
    ['an oversized description', { url: ENDPOINT, enabled_events: ['*'], description: 'd'.repeat(101) }],
    ['an unknown field', { url: ENDPOINT, enabled_events: ['*'], secret: 'mine' }],
  ])('refuses %s: 400, nothing created', async (_, body) => {
    const response = await create(body);
    expectProblem(response, 400, 'validation_error');
    expect(JSON.stringify(response.body)).not.toContain('secret@');
    expect(await endpointCount()).toBe(0);
  });

  it('needs an Idempotency-Key, and admin: players and other services get 403', async () => {
    const body = { url: ENDPOINT, enabled_events: ['*'] };
    expectProblem(await request(base(), 'POST', '/v1/webhook-endpoints', body, { token: world.admin }), 400, 'idempotency_key_required');
    const player = await world.player(0);
    for (const token of [player.token, world.service, world.reader]) {
      expectProblem(await create(body, token), 403, 'forbidden');
      expectProblem(await request(base(), 'GET', '/v1/webhook-endpoints', undefined, { token }), 403, 'forbidden');
    }
    expect(await endpointCount()).toBe(0);
  });

  it('shows the secret once (and to a replay of the same request), stores none, and bounds endpoints and secrets', async () => {
    const idempotency_key = key();
    const first = await create({ url: ENDPOINT, enabled_events: ['*'], description: 'game server' }, world.admin, idempotency_key);
    expect(first.status).toBe(201);
    const replay = await create({ url: ENDPOINT, enabled_events: ['*'], description: 'game server' }, world.admin, idempotency_key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const { id, secret } = first.body;
    expect(first.body).toMatchObject({ status: 'enabled', enabled_events: ['*'], description: 'game server' });
    const shown: ApiResponse[] = [
      await request(base(), 'GET', `/v1/webhook-endpoints/${id}`, undefined, { token: world.admin }),
      await request(base(), 'GET', '/v1/webhook-endpoints', undefined, { token: world.admin }),
    ];
    for (const response of shown) {
      expect(response.status).toBe(200);
      expect(JSON.stringify(response.body)).not.toContain(secret);
      expect(JSON.stringify(response.body)).not.toContain('"secret"');
    }
    const stored = await world.db.query(
      "SELECT (SELECT count(*) FROM webhook_endpoints WHERE secrets::text LIKE '%' || $1 || '%') + " +
        "(SELECT count(*) FROM idempotency_keys WHERE response_text LIKE '%' || $1 || '%') AS count",
      [secret.slice(6)],
    );
    expect(Number(stored.rows[0].count)).toBe(0);

    // WEBHOOK_SECRETS_ACTIVE_MAX = 2: one rotation with an overlap leaves two signing; another is refused.
    const rotate = (body: unknown) =>
      request(base(), 'POST', `/v1/webhook-endpoints/${id}/rotate-secret`, body, { token: world.admin, key: key() });
    expectProblem(await rotate({ overlap_seconds: -1 }), 400, 'validation_error');
    expectProblem(await rotate({ overlap_seconds: 3600, extra: true }), 400, 'validation_error');
    expect((await rotate({ overlap_seconds: 3600 })).status).toBe(200);
    expectProblem(await rotate({ overlap_seconds: 3600 }), 409, 'invalid_state');
    // A rotation that ends the others at once (a leaked secret) is never refused for them: it once waited out the overlap.
    const immediate = await rotate({ overlap_seconds: 0 });
    expect(immediate.status, JSON.stringify(immediate.body)).toBe(200);
    expect(immediate.body.signing_secrets).toHaveLength(1);

    // WEBHOOK_ENDPOINTS_MAX = 3.
    expect((await create({ url: `${ENDPOINT}/2`, enabled_events: ['hold.created'] })).status).toBe(201);
    expect((await create({ url: `${ENDPOINT}/3`, enabled_events: ['hold.created'] })).status).toBe(201);
    expectProblem(await create({ url: `${ENDPOINT}/4`, enabled_events: ['hold.created'] }), 409, 'invalid_state');
    expect(await endpointCount()).toBe(3);
  });

  it('PATCH and DELETE: bad changes are 400, unknown or deleted endpoints 404', async () => {
    // The newest of the three endpoints the test before made (WEBHOOK_ENDPOINTS_MAX).
    const other = (await request(base(), 'GET', '/v1/webhook-endpoints?limit=1', undefined, { token: world.admin })).body.data[0].id;
    const patch = (body: unknown, id = other) => request(base(), 'PATCH', `/v1/webhook-endpoints/${id}`, body, { token: world.admin });
    expectProblem(await patch({}), 400, 'validation_error');
    expectProblem(await patch({ status: 'deleted' }), 400, 'validation_error');
    expectProblem(await patch({ enabled_events: ['nope'] }), 400, 'validation_error');
    expectProblem(await patch({ url: 'http://192.168.1.1/x' }), 400, 'validation_error');
    expectProblem(await patch({ status: 'disabled' }, '00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectProblem(await patch({ status: 'disabled' }, 'not-a-uuid'), 400, 'validation_error');
    const disabled = await patch({ status: 'disabled', description: null, enabled_events: ['order.completed', 'order.refunded'] });
    expect(disabled.body).toMatchObject({
      status: 'disabled',
      disabled_reason: 'disabled by an operator',
      enabled_events: ['order.completed', 'order.refunded'],
    });
    const enabled = await patch({ status: 'enabled' });
    expect(enabled.body).toMatchObject({ status: 'enabled', disabled_reason: null });
    const player = await world.player(0);
    expectProblem(
      await request(base(), 'PATCH', `/v1/webhook-endpoints/${other}`, { status: 'disabled' }, { token: player.token }),
      403,
      'forbidden',
    );
    expectProblem(await request(base(), 'DELETE', `/v1/webhook-endpoints/${other}`, undefined, { token: world.service }), 403, 'forbidden');
    expect((await request(base(), 'DELETE', `/v1/webhook-endpoints/${other}`, undefined, { token: world.admin })).body.status).toBe(
      'deleted',
    );
    expectProblem(await request(base(), 'GET', `/v1/webhook-endpoints/${other}`, undefined, { token: world.admin }), 404, 'not_found');
    expectProblem(await request(base(), 'DELETE', `/v1/webhook-endpoints/${other}`, undefined, { token: world.admin }), 404, 'not_found');
    expectProblem(await patch({ status: 'enabled' }), 404, 'not_found');
  });
});

describe('the events API: access and bad input', () => {
  it('a player reads their own events (with no other player balance), never another account: 404', async () => {
    const payer = await world.player(1000);
    const payee = await world.player(0);
    const transfer = await request(
      base(),
      'POST',
      '/v1/transfers',
      { from_account_id: payer.id, to_account_id: payee.id, amount: 100, currency: 'EUR' },
      {
        token: payer.token,
        key: key(),
      },
    );
    expect(transfer.status).toBe(201);
    const own = await request(base(), 'GET', '/v1/events', undefined, { token: payer.token });
    expect(own.status).toBe(200);
    expect(own.body.data.every((event: { account_id: string }) => event.account_id === payer.id)).toBe(true);
    const posted = own.body.data.find((event: { data: { id: string } }) => event.data.id === transfer.body.id);
    expect(posted.data.balance_after).toBe(900);
    const payee_leg = posted.data.entries.find((entry: { account_id: string }) => entry.account_id === payee.id);
    expect(payee_leg).toEqual({ account_id: payee.id, currency: 'EUR', amount: 100 });
    // The service view of the same event shows both balances.
    const full = await request(base(), 'GET', `/v1/events/${posted.id}`, undefined, { token: world.reader });
    expect(full.body.data.entries.find((entry: { account_id: string }) => entry.account_id === payee.id).balance_after).toBe(100);

    expectProblem(await request(base(), 'GET', `/v1/events?account_id=${payee.id}`, undefined, { token: payer.token }), 404, 'not_found');
    expectProblem(await request(base(), 'GET', `/v1/events/${posted.id}`, undefined, { token: payee.token }), 404, 'not_found');
    expectProblem(await request(base(), 'GET', '/v1/events?account_id=nobody-here', undefined, { token: world.reader }), 404, 'not_found');
  });

  it('needs events:read or admin: other services get 403 before anything is looked up', async () => {
    const catalog = await world.mint.service('catalog:write', 'back-office');
    for (const token of [world.service, catalog, world.refunds]) {
      expectProblem(await request(base(), 'GET', '/v1/events', undefined, { token }), 403, 'forbidden');
      expectProblem(
        await request(base(), 'GET', '/v1/events/00000000-0000-4000-8000-000000000000', undefined, { token }),
        403,
        'forbidden',
      );
    }
    expect((await request(base(), 'GET', '/v1/events?limit=1', undefined, { token: world.admin })).status).toBe(200);
    expectProblem(await request(base(), 'GET', '/v1/events', undefined, {}), 401, 'unauthenticated');
  });

  it.each([
    ['an unknown type', 'type=order.shipped'],
    ['a list with an unknown type', 'type=hold.created,nope'],
    ['a limit of 0', 'limit=0'],
    ['a limit over the page size', 'limit=201'],
    ['a garbage cursor', 'cursor=bm90LWEtY3Vyc29y'],
    ['a cursor of the other kind of list', 'cursor=WzEsNV0'],
    ['a date that is not RFC 3339', 'created_after=yesterday'],
    ['a time without its offset (a pod read it in its own time zone)', 'created_before=2026-12-03T15:18:46'],
    ['a date without a time', 'created_after=2026-12-03'],
    ['a malformed account id', 'account_id=a%20b'],
    ['an unknown parameter', 'sort=asc'],
  ])('refuses %s in the query: 400', async (_, query) => {
    expectProblem(await request(base(), 'GET', `/v1/events?${query}`, undefined, { token: world.reader }), 400, 'validation_error');
  });

  it('filters by type and time, pages without repeats; redelivery checks what it names', async () => {
    const player = await world.player(500);
    for (let i = 0; i < 5; i += 1) {
      await request(
        base(),
        'POST',
        `/v1/accounts/${player.id}/debits`,
        { amount: 10, currency: 'EUR', reason: 'x' },
        { token: world.service, key: key() },
      );
    }
    const all = await request(base(), 'GET', `/v1/events?account_id=${player.id}&limit=200`, undefined, { token: world.reader });
    expect(all.body.data.map((event: { type: string }) => event.type)).toEqual([...Array(6).fill('transaction.posted'), 'account.created']);
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ApiResponse = await request(
        base(),
        'GET',
        `/v1/events?account_id=${player.id}&type=transaction.posted&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        {
          token: world.reader,
        },
      );
      pages.push(...page.body.data.map((event: { id: string }) => event.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(pages).toEqual(all.body.data.slice(0, 6).map((event: { id: string }) => event.id));
    const created = all.body.data.at(-1).created_at;
    const after = await request(
      base(),
      'GET',
      `/v1/events?account_id=${player.id}&created_after=${encodeURIComponent(created)}`,
      undefined,
      { token: world.reader },
    );
    expect(after.body.data.every((event: { created_at: string }) => event.created_at > created)).toBe(true);

    const event_id = all.body.data[0].id;
    const redeliver = (body: unknown, id = event_id, token = world.admin) =>
      request(base(), 'POST', `/v1/events/${id}/redeliver`, body, { token, key: key() });
    expectProblem(await redeliver({}), 400, 'validation_error');
    expectProblem(await redeliver({ endpoint_id: 'x' }), 400, 'validation_error');
    expectProblem(await redeliver({ endpoint_id: '00000000-0000-4000-8000-000000000000' }), 404, 'not_found');
    const listed = await request(base(), 'GET', '/v1/webhook-endpoints', undefined, { token: world.admin });
    const endpoint_id = listed.body.data[0].id;
    expectProblem(await redeliver({ endpoint_id }, '00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectProblem(await redeliver({ endpoint_id }, event_id, world.reader), 403, 'forbidden');
    const accepted = await redeliver({ endpoint_id });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ event_id, endpoint_id, status: 'pending', manual: true, attempts: 0 });
    await request(base(), 'PATCH', `/v1/webhook-endpoints/${endpoint_id}`, { status: 'disabled' }, { token: world.admin });
    expectProblem(await redeliver({ endpoint_id }), 409, 'invalid_state');
  });
});
