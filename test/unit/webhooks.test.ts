import { describe, expect, it } from 'vitest';
import { eventBody, eventView, type EventRecord } from '../../src/events/event-records.js';
import { judgeAttempt } from '../../src/webhooks/attempt-policy.js';
import { DeliveryLanes, type DeliveryJob } from '../../src/webhooks/delivery-lanes.js';
import { revealSecrets, secretMarker, secretValue } from '../../src/webhooks/endpoint-secrets.js';
import { bodyBase64, bodyKey, repeatedEntry } from '../../src/webhooks/signed-delivery.js';
import { verifyWebhookSignature, webhookSignatureHeader } from '../../src/webhooks/signature.js';
import { endpointUrlProblem } from '../../src/webhooks/url-policy.js';

describe('Creditshop-Signature', () => {
  const body = '{"id":"e","type":"hold.created","data":{"amount":5}}';
  const now_s = 1_800_000_000;

  it('carries one v1 per secret; a receiver knowing any one of them verifies', () => {
    const header = webhookSignatureHeader(['old-secret', 'new-secret'], now_s, body);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(header, body, ['old-secret'], now_s, 300).ok).toBe(true);
    expect(verifyWebhookSignature(header, body, ['new-secret'], now_s + 299, 300).ok).toBe(true);
    expect(verifyWebhookSignature(header, body, ['other', 'new-secret'], now_s, 300).ok).toBe(true);
  });

  it.each([
    ['a wrong secret', webhookSignatureHeader(['s'], now_s, body), body, now_s],
    ['a tampered body', webhookSignatureHeader(['secret'], now_s, body), body.replace('5', '6'), now_s],
    ['a stale timestamp', webhookSignatureHeader(['secret'], now_s, body), body, now_s + 301],
    ['a timestamp from the future', webhookSignatureHeader(['secret'], now_s + 301, body), body, now_s],
    ['no v1', `t=${now_s}`, body, now_s],
    ['no t', webhookSignatureHeader(['secret'], now_s, body).replace(/^t=\d+,/, ''), body, now_s],
    ['two t', `t=${now_s},${webhookSignatureHeader(['secret'], now_s, body)}`, body, now_s],
    ['a short v1', `t=${now_s},v1=abcd`, body, now_s],
    [
      'too many v1',
      `t=${now_s},${Array(21)
        .fill(`v1=${'0'.repeat(64)}`)
        .join(',')}`,
      body,
      now_s,
    ],
    ['an empty header', '', body, now_s],
  ])('refuses %s', (_, header, received, at_s) => {
    expect(verifyWebhookSignature(header, received, ['secret'], at_s, 300).ok).toBe(false);
  });
});

describe('endpoint URLs', () => {
  const refuse = { length_max: 200, private_urls: 'refuse' as const };
  const allow = { length_max: 200, private_urls: 'allow' as const };

  it.each([
    'https://hooks.example.com/creditshop',
    'http://203.0.113.7:8080/hooks?source=creditshop',
    'https://[2001:db8::1]/hooks',
    'http://[64:ff9b::808:808]/hooks',
  ])('accepts %s', (url) => {
    expect(endpointUrlProblem(url, refuse)).toBeUndefined();
  });

  it.each([
    ['ftp://hooks.example.com/x', 'http or https'],
    ['hooks.example.com', 'absolute'],
    ['https://user:pw@hooks.example.com/', 'credentials'],
    ['https://user@hooks.example.com/', 'credentials'],
    ['https://@hooks.example.com/', 'credentials'],
    ['http:///alice:s3cret@hooks.example.com/creds', 'host right after'],
    ['https:///hooks.example.com/x', 'host right after'],
    ['https://\\u:p@hooks.example.com/', 'host right after'],
    ['https:/\\u:p@hooks.example.com/', 'absolute'],
    ['http://127.0.0.1/', 'loopback'],
    ['http://127.8.9.10/', 'loopback'],
    ['http://10.0.0.1/', 'private'],
    ['http://172.31.255.255/', 'private'],
    ['http://192.168.0.10/', 'private'],
    ['http://169.254.169.254/', 'link-local'],
    ['http://100.64.1.1/', 'private'],
    ['http://0.0.0.0/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://[fd00::5]/', 'private'],
    ['http://[::ffff:10.0.0.1]/', 'private'],
    ['http://localhost:3000/', 'loopback'],
    ['http://api.localhost/', 'loopback'],
    ['http://localhost./', 'loopback'],
    ['http://[::127.0.0.1]/', 'loopback'],
    ['http://[64:ff9b::7f00:1]/', 'loopback'],
    ['http://[::ffff:0:7f00:1]/', 'loopback'],
    ['http://[2002:7f00:1::]/', 'loopback'],
    ['http://[fec0::1]/', 'loopback'],
    ['http://[64:ff9b:1::a00:1]/', 'loopback'],
    ['http://[ff02::1]/', 'loopback'],
    ['http://224.0.0.1/', 'loopback'],
    ['http://255.255.255.255/', 'loopback'],
    ['http://198.18.0.1/', 'loopback'],
    ['http://localhost.localdomain/', 'loopback'],
    ['http://ip6-localhost:8080/', 'loopback'],
    ['https://hooks.example.com/in#frag', 'fragment'],
    [' http://hooks.example.com/ws\n', 'without spaces'],
    ['http://hooks.example.com/a b', 'without spaces'],
    ['http:hooks.example.com/x', 'absolute'],
    ['http://hooks.example.com:0/x', 'port 0'],
    [`https://hooks.example.com/${'x'.repeat(200)}`, 'at most 200'],
  ])('refuses %s in production', (url, reason) => {
    expect(endpointUrlProblem(url, refuse)).toContain(reason);
  });

  it('allows private addresses when told to (development), never credentials', () => {
    expect(endpointUrlProblem('http://127.0.0.1:4300/hooks', allow)).toBeUndefined();
    expect(endpointUrlProblem('http://u:p@127.0.0.1:4300/hooks', allow)).toContain('credentials');
  });
});

describe('attempts and their verdict', () => {
  const policy = { retry_base_ms: 5000, retry_max_ms: 3_600_000, retry_window_hours: 72 };
  const created_ms = Date.parse('2026-12-01T00:00:00Z');

  it('a 2xx delivers; anything else is retried after a doubling, jittered, capped delay', () => {
    expect(judgeAttempt({ ok: true, number: 9, created_ms: created_ms, now_ms: created_ms }, policy)).toEqual({ state: 'delivered' });
    const delays = [1, 2, 3, 4, 12, 30].map((number) => [
      judgeAttempt({ ok: false, number, created_ms: created_ms, now_ms: created_ms }, policy, () => 0),
      judgeAttempt({ ok: false, number, created_ms: created_ms, now_ms: created_ms }, policy, () => 1),
    ]);
    expect(delays.map(([low]) => low)).toEqual(
      [2500, 5000, 10_000, 20_000, 1_800_000, 1_800_000].map((retry_in_ms) => ({ state: 'pending', retry_in_ms })),
    );
    expect(delays.map(([, high]) => (high as { retry_in_ms: number }).retry_in_ms)).toEqual([
      5000, 10_000, 20_000, 40_000, 3_600_000, 3_600_000,
    ]);
  });

  it('gives up when the next attempt would fall after the retry window', () => {
    const late_ms = created_ms + 72 * 3_600_000 - 1000;
    expect(judgeAttempt({ ok: false, number: 40, created_ms: created_ms, now_ms: late_ms }, policy, () => 0)).toEqual({
      state: 'failed',
    });
    expect(judgeAttempt({ ok: false, number: 1, created_ms: created_ms, now_ms: late_ms - 5000 }, policy, () => 0)).toEqual({
      state: 'pending',
      retry_in_ms: 2500,
    });
  });
});

describe('delivery lanes', () => {
  const event = { id: 'e', created_at: '2026-12-01T00:00:00.000Z' } as EventRecord;
  const job = (id: string, endpoint_id: string, account: string | null, seq: number | null): DeliveryJob => ({
    id,
    endpoint_id,
    account_id: account,
    account_seq: seq,
    attempts: 0,
    created_at: event.created_at,
    lease_token: 't',
    deadline_ms: 0,
    event,
    committed_ms: 0,
  });
  const ids = (jobs: readonly DeliveryJob[]) => jobs.map((held) => held.id);

  it('runs one job per account at a time, in account order, up to the concurrency of each endpoint', () => {
    const lanes = new DeliveryLanes({ queue_max: 10, concurrency: 2, start_window_ms: 10_000, timeout_ms: 100 });
    expect(
      lanes.add([
        job('a2', 'E', 'A', 2),
        job('a1', 'E', 'A', 1),
        job('b1', 'E', 'B', 1),
        job('c1', 'E', 'C', 1),
        job('x', 'F', null, null),
      ]),
    ).toEqual([]);
    expect(ids(lanes.startable())).toEqual(['a1', 'b1', 'x']);
    expect(lanes.depth('E')).toBe(4);
    expect(ids(lanes.startable())).toEqual([]);
  });

  it('a job to retry takes the rest of its chain out; a settled one lets the next go', () => {
    const lanes = new DeliveryLanes({ queue_max: 10, concurrency: 4, start_window_ms: 10_000, timeout_ms: 100 });
    const [a1, a2, a3, b1] = [job('a1', 'E', 'A', 1), job('a2', 'E', 'A', 2), job('a3', 'E', 'A', 3), job('b1', 'E', 'B', 1)];
    lanes.add([a1, a2, a3, b1]);
    expect(ids(lanes.startable())).toEqual(['a1', 'b1']);
    expect(ids(lanes.finish(a1, false))).toEqual(['a2', 'a3']);
    expect(ids(lanes.startable())).toEqual([]);
    expect(ids(lanes.finish(b1, true))).toEqual([]);
    expect(lanes.depth('E')).toBe(0);
    const [c1, c2] = [job('c1', 'E', 'C', 1), job('c2', 'E', 'C', 2)];
    lanes.add([c1, c2]);
    expect(ids(lanes.startable())).toEqual(['c1']);
    lanes.finish(c1, true);
    expect(ids(lanes.startable())).toEqual(['c2']);
  });

  it('holds at most queue_max per endpoint; provisional jobs wait for confirm and leave with their chain', () => {
    const lanes = new DeliveryLanes({ queue_max: 2, concurrency: 4, start_window_ms: 10_000, timeout_ms: 100 });
    const [a1, a2, a3] = [job('a1', 'E', 'A', 1), job('a2', 'E', 'A', 2), job('a3', 'E', 'A', 3)];
    expect(ids(lanes.add([a1, a2, a3], true))).toEqual(['a3']);
    expect(lanes.room('E')).toBe(0);
    expect(lanes.room('F')).toBe(2);
    expect(ids(lanes.startable())).toEqual([]);
    // What an order check reads after: the last held before a job of the chain.
    const place = (account_seq: number) => ({ endpoint_id: 'E', account_id: 'A', account_seq });
    expect([lanes.heldBefore(place(1)), lanes.heldBefore(place(2)), lanes.heldBefore(place(9))]).toEqual([null, 1, 2]);
    lanes.confirm([a1, a2]);
    expect(ids(lanes.startable())).toEqual(['a1']);
    expect(ids(lanes.removeQueued((held) => held.id === 'a2'))).toEqual(['a2']);
    expect(ids(lanes.finish(a1, true))).toEqual([]);
    expect(lanes.depth('E')).toBe(0);
  });

  it('holds from a slow endpoint only what can start within a lease, at the pace of its recent attempts', () => {
    const lanes = new DeliveryLanes({ queue_max: 2000, concurrency: 4, start_window_ms: 10_000, timeout_ms: 5000 });
    // Not yet measured: at the pace of the timeout (1 of a chain, 4 chains). Fast: up to queue_max, whole chains.
    expect([lanes.room('E'), lanes.chainRoom('E')]).toEqual([4, 1]);
    lanes.noteLatency('E', 4);
    expect([lanes.room('E'), lanes.chainRoom('E')]).toEqual([2000, 2000]);
    // About 1 s an attempt: 8 of a chain one after another (with a fifth of the window to spare), 4 chains at a time.
    for (let attempt = 0; attempt < 40; attempt += 1) lanes.noteLatency('E', 1000);
    expect(lanes.chainRoom('E')).toBe(8);
    expect(lanes.room('E')).toBe(32);
    lanes.add([job('a1', 'E', 'A', 1), job('a2', 'E', 'A', 2)]);
    expect(lanes.room('E')).toBe(30);
    // Slower than the window: one at a time per chain, still `concurrency` chains.
    for (let attempt = 0; attempt < 40; attempt += 1) lanes.noteLatency('E', 30_000);
    expect([lanes.room('E'), lanes.chainRoom('E')]).toEqual([2, 1]);
    expect(lanes.room('F')).toBe(4);
    lanes.forget('E');
    expect(lanes.chainRoom('E')).toBe(1);
  });
});

describe('secrets in answers', () => {
  it('an answer carries a marker where the secret goes; only a "secret" field is revealed', () => {
    const salt = 'abcdefghijklmnopqrstuvwx';
    const body = JSON.stringify({ description: secretMarker(salt), secret: secretMarker(salt) });
    const revealed = JSON.parse(revealSecrets(body, 'k'.repeat(32)));
    expect(revealed).toEqual({ description: secretMarker(salt), secret: secretValue('k'.repeat(32), salt) });
    expect(secretValue('k'.repeat(32), salt)).not.toBe(secretValue('l'.repeat(32), salt));
  });
});

describe('the event body', () => {
  it('is the event as the API shows it, its data as first serialized', () => {
    const record: EventRecord = {
      id: '5f0c6a35-7a58-4f5b-9b1b-2f1c8f9d6a11',
      type: 'hold.created',
      account_id: 'p-1',
      account_seq: 7,
      api_version: '2026-12-01',
      data_json: '{"zeta":1,"alpha":{"b":2,"a":1}}',
      region: 'eu-west',
      created_at: '2026-12-01T00:00:00.000Z',
    };
    expect(eventBody(record)).toBe(JSON.stringify(eventView(record)));
    expect(eventBody(record)).toContain('"data":{"zeta":1,"alpha":{"b":2,"a":1}}');
  });
});

describe('partner redeliveries', () => {
  const delivery = (raw: string) => ({ kind: 'event' as const, key: 'evt_1', payload: JSON.parse(raw) as unknown, raw_body: raw });

  it('when a body repeats an event or the very bytes of a conflict, then that row; a row merely keyed like its hash is not one', () => {
    const first = '{"id":"evt_1","type":"payment.succeeded","data":{"amount":1}}';
    const other = '{"id":"evt_1","type":"payment.refunded","data":{"amount":1}}';
    const log = new Map<string, { payload: unknown; body_base64: string | null; outcome: string }>([
      ['evt_1', { payload: JSON.parse(first), body_base64: null, outcome: 'credited' }],
      [bodyKey(other), { payload: null, body_base64: bodyBase64(other), outcome: 'conflict' }],
    ]);
    expect(repeatedEntry((key) => log.get(key), delivery(first))?.outcome).toBe('credited');
    expect(repeatedEntry((key) => log.get(key), delivery(other))?.outcome).toBe('conflict');
    // A partner event whose id happens to be the hash key of this body is no record of these bytes.
    log.set(bodyKey(other), { payload: JSON.parse(first), body_base64: null, outcome: 'credited' });
    expect(repeatedEntry((key) => log.get(key), delivery(other))).toBeUndefined();
  });
});
