import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import { readJson, sendReply } from '../seller-simulator/http-io.js';
import type { Reply } from '../seller-simulator/seller-state.js';

/**
 * A payout provider speaking creditshop's payout protocol (SPEC §10), for development and tests:
 * a real HTTP server. `POST /payouts` with `Idempotency-Key` creates a payout once per key (every
 * repeat answers the same payout), then the provider calls back `POST <callback url>/v1/payouts/events`
 * signed with `Payout-Signature`, as its mode says:
 *
 * - instant: `payout.paid` right after answering; delayed: after `delay_ms`
 * - failing: `payout.failed`
 * - duplicated: the callback `duplicates` times at once, and once more under another event id
 * - out_of_order: the callback is delivered before the payout call is answered
 * - silent: accepted, never called back
 * - refusing: 422, no payout
 * - flaky: the first `flaky_calls` calls create the payout but answer 503 (an unknown outcome)
 * - slow: the first `slow_calls` calls create the payout but answer only after `delay_ms` (or, while
 *   `holdSlowAnswers` holds them, once released)
 * - resend_refusing: the first call creates the payout but answers 503; every repeat of its key is
 *   refused 422 `duplicate_idempotency_key` (as some providers do), and `payout.paid` follows `delay_ms` later
 *
 * The provider starts calling back once it has answered a payout call in time (flaky and slow
 * payouts: after the first call that got a real answer), as a provider would after its answer.
 *
 * The mode is the simulator's, or per payout `sim:<mode>` at the start of `destination.reference`;
 * `:fail` after it makes the payout's callbacks `payout.failed` (e.g. `sim:slow:fail`).
 * Not part of the service: a development tool.
 */

export const PAYOUT_MODES = [
  'instant',
  'delayed',
  'failing',
  'duplicated',
  'out_of_order',
  'silent',
  'resend_refusing',
  'refusing',
  'flaky',
  'slow',
] as const;
export type PayoutMode = (typeof PAYOUT_MODES)[number];

export interface PayoutSimulatorOptions {
  host?: string;
  port?: number;
  /** Where callbacks go (pod base URLs, used in turn). */
  callback_urls: string[];
  /** PAYOUT_WEBHOOK_SECRET of the pods. */
  secret: string;
  mode?: PayoutMode;
  delay_ms?: number;
  duplicates?: number;
  flaky_calls?: number;
  slow_calls?: number;
  /** Deliveries of one callback until a pod answers 200 (a real provider keeps trying for days), and the pause between them. */
  callback_attempts_max?: number;
  callback_retry_ms?: number;
}

export interface SimulatedPayout {
  payout_id: string;
  withdrawal_id: string;
  amount: number;
  currency: string;
  destination: { type: string; reference: string };
  mode: PayoutMode;
  /** What the callbacks will say. */
  outcome: 'payout.paid' | 'payout.failed';
  /** Calls of POST /payouts with this payout's Idempotency-Key. */
  calls: number;
  /** Every callback delivery attempt: event id, type and the HTTP status the pod answered (0: no answer). */
  callbacks: Array<{ event_id: string; type: string; status: number }>;
}

export interface PayoutSimulator {
  url: string;
  payout(withdrawal_id: string): SimulatedPayout | undefined;
  payouts(): SimulatedPayout[];
  setMode(mode: PayoutMode): void;
  /**
   * Down: every payout call is answered 503 before anything is created (a provider in an outage).
   * `hanging`: those 503s go out only when the outage ends or stops hanging, so a test can have a call
   * wait there until something else has happened (e.g. a freeze committed).
   */
  setDown(down: boolean, options?: { hanging?: boolean }): void;
  /**
   * From now on `slow` payouts' held answers wait for the returned release rather than `delay_ms`,
   * so a test can time them against something else (a database outage). The release sends the ones
   * waiting and returns how many went to a caller still waiting for them (not one that gave up).
   */
  holdSlowAnswers(): () => number;
  /** Where callbacks go from now on (pods started after the simulator). */
  setCallbackUrls(urls: string[]): void;
  /** Sends a correctly signed callback for a payout now (as the provider would, e.g. a late or repeated one). */
  callback(withdrawal_id: string, type: 'payout.paid' | 'payout.failed', event_id?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startPayoutSimulator(options: PayoutSimulatorOptions): Promise<PayoutSimulator> {
  let down = false;
  /** While a hanging outage lasts: ends it for the calls waiting in it. */
  let hanging: { ended: Promise<void>; end: () => void } | undefined;
  const endHanging = () => {
    hanging?.end();
    hanging = undefined;
  };
  /** While slow answers are held: the answers waiting, and what releases them. */
  let slow_hold: { waiting: ServerResponse[]; released: Promise<void>; release: () => void } | undefined;
  const settings = {
    mode: options.mode ?? 'instant',
    delay_ms: 500,
    duplicates: 3,
    flaky_calls: 2,
    slow_calls: 1,
    callback_attempts_max: 5,
    callback_retry_ms: 200,
    ...options,
  };
  const payouts = new Map<string, SimulatedPayout>();
  /** Payouts whose callbacks have started. */
  const calling_back = new Set<string>();
  let next_callback = 0;
  const closing = new AbortController();

  const deliver = async (payout: SimulatedPayout, type: 'payout.paid' | 'payout.failed', event_id = `evt_${randomUUID()}`) => {
    const data = { withdrawal_id: payout.withdrawal_id, amount: payout.amount, currency: payout.currency, payout_id: payout.payout_id };
    const body = JSON.stringify({
      id: event_id,
      type,
      data: type === 'payout.failed' ? { ...data, failure_reason: 'account closed at the bank' } : data,
    });
    for (let attempt = 1; attempt <= settings.callback_attempts_max && !closing.signal.aborted; attempt += 1) {
      const url = settings.callback_urls[next_callback++ % settings.callback_urls.length]!;
      const header = signatureHeader(settings.secret, Math.floor(Date.now() / 1000), body);
      // A signal of the call's own, let go when it ends: fetch's listener on a shared signal stays
      // until garbage collection, and thousands of callbacks under load tripped Node's leak warning.
      const call = new AbortController();
      const abort = () => call.abort();
      closing.signal.addEventListener('abort', abort, { once: true });
      const status = await fetch(`${url}/v1/payouts/events`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Payout-Signature': header },
        body,
        signal: call.signal,
      })
        .then(async (response) => {
          await response.arrayBuffer();
          return response.status;
        })
        .catch(() => 0)
        .finally(() => closing.signal.removeEventListener('abort', abort));
      payout.callbacks.push({ event_id, type, status });
      if (status === 200) return status;
      await sleep(settings.callback_retry_ms, undefined, { signal: closing.signal }).catch(() => undefined);
    }
    return 0;
  };

  /** What the provider does after creating a payout, as its mode says. */
  const settle = async (payout: SimulatedPayout) => {
    const type = payout.outcome;
    if (payout.mode === 'silent' || payout.mode === 'out_of_order') return;
    if (payout.mode === 'delayed' || payout.mode === 'resend_refusing')
      await sleep(settings.delay_ms, undefined, { signal: closing.signal }).catch(() => undefined);
    if (payout.mode !== 'duplicated') {
      await deliver(payout, type);
      return;
    }
    const event_id = `evt_${randomUUID()}`;
    await Promise.all(Array.from({ length: settings.duplicates }, () => deliver(payout, type, event_id)));
    await deliver(payout, type);
  };

  const handlePayout = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (down) {
      if (hanging) await hanging.ended;
      return sendReply(res, { status: 503, body: { error: 'unavailable' } });
    }
    const key = req.headers['idempotency-key'];
    const parsed = await readJson(req);
    if (!('value' in parsed)) return sendReply(res, parsed);
    const body = parsed.value as Record<string, unknown>;
    const destination = body['destination'] as { type?: unknown; reference?: unknown } | undefined;
    const valid =
      typeof key === 'string' &&
      key === body['id'] &&
      Number.isSafeInteger(body['amount']) &&
      typeof body['currency'] === 'string' &&
      typeof destination?.type === 'string' &&
      typeof destination.reference === 'string';
    if (!valid) return sendReply(res, { status: 400, body: { error: 'validation_error' } });
    const reference = destination.reference as string;
    const mode = PAYOUT_MODES.find((candidate) => reference.startsWith(`sim:${candidate}`)) ?? settings.mode;
    if (mode === 'refusing') {
      // `sim:refusing:garbled…`: a careless provider whose refusal holds text no database stores.
      const error = reference.startsWith('sim:refusing:garbled') ? 'invalid\u0000destination\uD800' : 'invalid_destination';
      return sendReply(res, { status: 422, body: { error } });
    }
    let payout = payouts.get(key);
    const created = payout === undefined;
    payout ??= {
      payout_id: `po_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      withdrawal_id: key,
      amount: body['amount'] as number,
      currency: body['currency'] as string,
      destination: { type: destination.type as string, reference },
      mode,
      outcome: mode === 'failing' || reference.startsWith(`sim:${mode}:fail`) ? 'payout.failed' : 'payout.paid',
      calls: 0,
      callbacks: [],
    };
    payouts.set(key, payout);
    payout.calls += 1;
    const reply: Reply = { status: created ? 201 : 200, body: { payout_id: payout.payout_id, status: 'pending' } };
    if (payout.mode === 'resend_refusing') {
      if (created) return sendReply(res, { status: 503, body: { error: 'unavailable' } });
      if (!calling_back.has(key)) {
        calling_back.add(key);
        void settle(payout);
      }
      return sendReply(res, { status: 422, body: { error: 'duplicate_idempotency_key' } });
    }
    if (payout.mode === 'flaky' && payout.calls <= settings.flaky_calls)
      return sendReply(res, { status: 503, body: { error: 'unavailable' } });
    if (payout.mode === 'slow' && payout.calls <= settings.slow_calls) {
      if (slow_hold) {
        slow_hold.waiting.push(res);
        await slow_hold.released;
      } else await sleep(settings.delay_ms, undefined, { signal: closing.signal }).catch(() => undefined);
      return sendReply(res, reply);
    }
    if (!calling_back.has(key)) {
      calling_back.add(key);
      if (payout.mode === 'out_of_order') await deliver(payout, payout.outcome);
      else void settle(payout);
    }
    sendReply(res, reply);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://simulator').pathname;
    if (req.method === 'POST' && path === '/payouts') return handlePayout(req, res);
    if (req.method === 'GET' && path === '/payouts') return sendReply(res, { status: 200, body: { data: [...payouts.values()] } });
    const match = /^\/payouts\/([^/]+)$/.exec(path);
    const payout = match ? payouts.get(decodeURIComponent(match[1]!)) : undefined;
    if (req.method === 'GET' && payout) return sendReply(res, { status: 200, body: { ...payout } });
    sendReply(res, { status: 404, body: { error: 'not_found' } });
  };

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => sendReply(res, { status: 500, body: { error: 'internal_error', detail: String(error) } }));
  });
  const url = await listen(server, settings.host ?? '127.0.0.1', settings.port ?? 0);
  return {
    url,
    payout: (withdrawal_id) => payouts.get(withdrawal_id),
    payouts: () => [...payouts.values()],
    setMode: (mode) => {
      settings.mode = mode;
    },
    setDown: (value, options = {}) => {
      down = value;
      if (!value || !options.hanging) endHanging();
      else if (!hanging) {
        let end = () => {};
        const ended = new Promise<void>((resolve) => {
          end = resolve;
        });
        hanging = { ended, end };
      }
    },
    holdSlowAnswers: () => {
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const hold = { waiting: [] as ServerResponse[], released, release };
      slow_hold = hold;
      return () => {
        if (slow_hold === hold) slow_hold = undefined;
        hold.release();
        // A caller that gave up (its timeout) closed its connection: its answer reaches no one.
        return hold.waiting.filter((res) => !res.destroyed).length;
      };
    },
    setCallbackUrls: (urls) => {
      settings.callback_urls = urls;
    },
    callback: async (withdrawal_id, type, event_id) => {
      const payout = payouts.get(withdrawal_id);
      if (!payout) throw new RangeError(`no payout for withdrawal ${withdrawal_id}`);
      return deliver(payout, type, event_id);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing.abort();
        endHanging();
        slow_hold?.release();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(`http://${host}:${(server.address() as AddressInfo).port}`);
    });
  });
}
