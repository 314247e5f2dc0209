import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { request, type ApiResponse } from './cluster.js';

/**
 * A small fake of the Stripe API a pod calls (POST /v1/payment_intents), over real HTTP, and of
 * Stripe's side of a payment: it moves its objects through payment, refunds and disputes and
 * renders the events Stripe would send, which tests sign with the SDK's own
 * generateTestHeaderString and post to the pods. Like Stripe, it keeps the result of a create
 * under its Idempotency-Key (a retry gets the same intent), refuses the same key with other
 * parameters (400 idempotency_error) or while the first call still runs (409), and keeps nothing
 * for a call it refused before running it. Faults are scripted per create call.
 */

export type CreateFault =
  /** 503 before anything runs (nothing created, nothing kept). */
  | { kind: 'unavailable' }
  /** The call runs (an intent is created and kept), but its answer comes after `delay_ms`: the client has given up by then. */
  | { kind: 'slow'; delay_ms: number };

export interface RecordedCall {
  method: string;
  path: string;
  idempotency_key: string | undefined;
  params: Record<string, string>;
  status: number;
}

interface Intent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: string;
  client_secret: string;
  description: string | null;
  metadata: Record<string, string>;
  latest_charge: string | null;
  last_payment_error: { code: string; message: string } | null;
  created: number;
  livemode: false;
}

interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  amount_refunded: number;
  currency: string;
  payment_intent: string;
  metadata: Record<string, string>;
  refunded: boolean;
  disputed: boolean;
  status: 'succeeded';
  created: number;
  livemode: false;
}

interface Dispute {
  id: string;
  object: 'dispute';
  amount: number;
  currency: string;
  charge: string;
  payment_intent: string;
  status: string;
  reason: string;
  metadata: Record<string, string>;
  created: number;
  livemode: false;
}

export interface StripeEventBody {
  id: string;
  object: 'event';
  type: string;
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  data: { object: unknown };
}

type Answer = (status: number, body: unknown, headers?: Record<string, string>) => void;

type Kept = { state: 'running'; params: string } | { state: 'done'; params: string; status: number; body: string };

const MINIMUM_MINOR = 50;
/** How long a create runs: a twin call with the same key meanwhile meets 409, as at Stripe. */
const CREATE_RUNNING_MS = 20;
const CURRENCIES = new Set(['eur', 'usd', 'gbp']);

export class StripeFake {
  readonly calls: RecordedCall[] = [];
  readonly intents = new Map<string, Intent>();
  private readonly charges = new Map<string, Charge>();
  private readonly disputes = new Map<string, Dispute>();
  private readonly kept = new Map<string, Kept>();
  private readonly faults: CreateFault[] = [];
  private readonly late_answers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly secret_key: string,
  ) {}

  static async start(secret_key: string): Promise<StripeFake> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new StripeFake(server, `http://127.0.0.1:${port}`, secret_key);
    server.on('request', (incoming, outgoing) => void fake.serve(incoming, outgoing));
    return fake;
  }

  async stop(): Promise<void> {
    for (const timer of this.late_answers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next create calls meet these faults, in order. */
  failNextCreates(...faults: CreateFault[]): void {
    this.faults.push(...faults);
  }

  /** Create calls whose Idempotency-Key is this top-up's (the pod's key is creditshop-topup-<id>). */
  createCallsFor(topup_id: string): RecordedCall[] {
    return this.calls.filter((call) => call.path === '/v1/payment_intents' && call.idempotency_key === `creditshop-topup-${topup_id}`);
  }

  /** The intents made for a top-up: more than one would mean a second intent for one top-up. */
  intentsFor(topup_id: string): Intent[] {
    return [...this.intents.values()].filter((intent) => intent.metadata['creditshop_topup_id'] === topup_id);
  }

  // Stripe's side of a payment. Each returns the event Stripe sends, its object as it was then.

  /** The customer paid: the intent succeeds and its charge is made (with the intent's metadata). */
  pay(intent_id: string): StripeEventBody {
    const intent = this.intent(intent_id);
    const charge: Charge = {
      id: `ch_${token()}`,
      object: 'charge',
      amount: intent.amount,
      amount_refunded: 0,
      currency: intent.currency,
      payment_intent: intent.id,
      metadata: { ...intent.metadata },
      refunded: false,
      disputed: false,
      status: 'succeeded',
      created: now(),
      livemode: false,
    };
    this.charges.set(charge.id, charge);
    Object.assign(intent, { status: 'succeeded', amount_received: intent.amount, latest_charge: charge.id, last_payment_error: null });
    return event('payment_intent.succeeded', intent);
  }

  /** The card was declined: the intent waits for another payment method. */
  decline(intent_id: string): StripeEventBody {
    const intent = this.intent(intent_id);
    const last_payment_error = { code: 'card_declined', message: 'Your card was declined.' };
    Object.assign(intent, { status: 'requires_payment_method', last_payment_error });
    return event('payment_intent.payment_failed', intent);
  }

  /** A refund of part of the charge: the event carries the charge's refunded total so far. */
  refund(intent_id: string, amount: number): StripeEventBody {
    const charge = this.chargeOf(intent_id);
    if (charge.amount_refunded + amount > charge.amount) throw new Error(`refund of ${amount} exceeds charge ${charge.id}`);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    return event('charge.refunded', charge);
  }

  /** The cardholder disputes the charge (an inquiry when `inquiry`: no money is taken yet). */
  openDispute(intent_id: string, options: { amount?: number; inquiry?: boolean } = {}): { dispute_id: string; event: StripeEventBody } {
    const charge = this.chargeOf(intent_id);
    const dispute: Dispute = {
      id: `dp_${token()}`,
      object: 'dispute',
      amount: options.amount ?? charge.amount,
      currency: charge.currency,
      charge: charge.id,
      payment_intent: charge.payment_intent,
      status: options.inquiry ? 'warning_needs_response' : 'needs_response',
      reason: 'fraudulent',
      // A dispute has metadata of its own, empty: it does not inherit the payment's.
      metadata: {},
      created: now(),
      livemode: false,
    };
    charge.disputed = true;
    this.disputes.set(dispute.id, dispute);
    return { dispute_id: dispute.id, event: event('charge.dispute.created', dispute) };
  }

  closeDispute(dispute_id: string, status: 'won' | 'lost' | 'warning_closed'): StripeEventBody {
    const dispute = this.disputes.get(dispute_id);
    if (!dispute) throw new Error(`no dispute ${dispute_id}`);
    dispute.status = status;
    return event('charge.dispute.closed', dispute);
  }

  /** An event of a type creditshop does not act on, about an intent. */
  other(type: string, intent_id: string): StripeEventBody {
    return event(type, this.intent(intent_id));
  }

  private intent(intent_id: string): Intent {
    const intent = this.intents.get(intent_id);
    if (!intent) throw new Error(`no intent ${intent_id}`);
    return intent;
  }

  private chargeOf(intent_id: string): Charge {
    const charge_id = this.intent(intent_id).latest_charge;
    const charge = charge_id === null ? undefined : this.charges.get(charge_id);
    if (!charge) throw new Error(`intent ${intent_id} has no charge`);
    return charge;
  }

  // The API.

  private async serve(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const idempotency_key = incoming.headers['idempotency-key'] as string | undefined;
    const call: RecordedCall = { method: incoming.method ?? '', path: incoming.url ?? '', idempotency_key, params, status: 0 };
    this.calls.push(call);
    const creating = call.method === 'POST' && call.path === '/v1/payment_intents';
    const fault = creating ? this.faults.shift() : undefined;
    // The call's status is what Stripe decided; a slow answer only leaves later.
    const answer: Answer = (status, body, headers = {}) => {
      call.status = status;
      const write = () => {
        outgoing.writeHead(status, { 'Content-Type': 'application/json', 'Request-Id': `req_${token()}`, ...headers });
        outgoing.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      if (fault?.kind !== 'slow') return write();
      const timer = setTimeout(() => {
        this.late_answers.delete(timer);
        write();
      }, fault.delay_ms);
      this.late_answers.add(timer);
    };
    if (fault?.kind === 'unavailable') return answer(503, { error: { type: 'api_error', message: 'Service unavailable' } });
    if (incoming.headers.authorization !== `Bearer ${this.secret_key}`) {
      return answer(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    }
    if (!creating) {
      return answer(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${call.method}: ${call.path})` } });
    }
    await this.createIntent(params, idempotency_key, answer);
  }

  private async createIntent(params: Record<string, string>, idempotency_key: string | undefined, answer: Answer): Promise<void> {
    const fingerprint = JSON.stringify(Object.entries(params).sort(([a], [b]) => a.localeCompare(b)));
    const kept = idempotency_key === undefined ? undefined : this.kept.get(idempotency_key);
    if (kept && kept.params !== fingerprint) {
      const message = 'Keys for idempotent requests can only be used with the same parameters they were first used with.';
      return answer(400, { error: { type: 'idempotency_error', message } });
    }
    if (kept?.state === 'running') {
      const message = 'There is currently another in-progress request using this Idempotent Key.';
      return answer(409, { error: { type: 'invalid_request_error', code: 'idempotency_key_in_use', message } });
    }
    if (kept?.state === 'done') return answer(kept.status, kept.body, { 'Idempotent-Replayed': 'true' });
    const refusal = refusalOf(params);
    if (refusal) return answer(400, { error: refusal });
    if (idempotency_key !== undefined) this.kept.set(idempotency_key, { state: 'running', params: fingerprint });
    await sleep(CREATE_RUNNING_MS);
    const body = JSON.stringify(this.newIntent(params));
    if (idempotency_key !== undefined) this.kept.set(idempotency_key, { state: 'done', params: fingerprint, status: 200, body });
    answer(200, body);
  }

  private newIntent(params: Record<string, string>): Intent {
    const id = `pi_${token()}`;
    const metadata = Object.fromEntries(
      Object.entries(params)
        .filter(([name]) => name.startsWith('metadata['))
        .map(([name, value]) => [name.slice('metadata['.length, -1), value]),
    );
    const intent: Intent = {
      id,
      object: 'payment_intent',
      amount: Number(params['amount']),
      amount_received: 0,
      currency: params['currency']!,
      status: 'requires_payment_method',
      client_secret: `${id}_secret_${token()}`,
      description: params['description'] ?? null,
      metadata,
      latest_charge: null,
      last_payment_error: null,
      created: now(),
      livemode: false,
    };
    this.intents.set(id, intent);
    return intent;
  }
}

function refusalOf(params: Record<string, string>): { type: string; code: string; param: string; message: string } | undefined {
  const amount = Number(params['amount']);
  const currency = params['currency'] ?? '';
  if (!CURRENCIES.has(currency)) {
    return { type: 'invalid_request_error', code: 'parameter_invalid_string', param: 'currency', message: `Invalid currency: ${currency}` };
  }
  if (!Number.isInteger(amount) || amount < MINIMUM_MINOR) {
    const message = `Amount must be at least ${MINIMUM_MINOR} ${currency} minor units`;
    return { type: 'invalid_request_error', code: 'amount_too_small', param: 'amount', message };
  }
  return undefined;
}

function event(type: string, object: unknown): StripeEventBody {
  return {
    id: `evt_${token()}`,
    object: 'event',
    type,
    api_version: Stripe.API_VERSION,
    created: now(),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: structuredClone(object) },
  };
}

function token(): string {
  return randomBytes(12).toString('hex');
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** Posts a body to a pod's Stripe endpoint as Stripe does, signed by the SDK's test helper (or not, or badly). */
export function sendStripeEvent(
  base: string,
  body: StripeEventBody | string,
  webhook_secret: string,
  options: { signature?: string; timestamp_s?: number } = {},
): Promise<ApiResponse> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const signature =
    options.signature ?? Stripe.webhooks.generateTestHeaderString({ payload, secret: webhook_secret, timestamp: options.timestamp_s });
  return request(base, 'POST', '/v1/psp/stripe/events', undefined, {
    raw: payload,
    headers: { 'Stripe-Signature': signature, 'Content-Type': 'application/json; charset=utf-8' },
  });
}
