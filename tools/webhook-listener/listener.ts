import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { verifyWebhookSignature, SIGNATURE_HEADER } from '../../src/webhooks/signature.js';

/**
 * A webhook receiver for demos and tests (what `stripe listen` is to Stripe): it verifies each
 * delivery's signature against the secrets it knows, keeps what arrived, and answers with the
 * status `answer` chooses (200 by default; 401 for a bad signature). Not part of the service.
 */
export interface ReceivedDelivery {
  /** The event as sent (null if the body was not JSON). */
  event: { id: string; type: string; account_id: string | null; account_sequence: number | null; created_at: string; data: unknown } | null;
  raw_body: string;
  event_id: string | undefined;
  event_type: string | undefined;
  delivery_id: string | undefined;
  attempt: number | undefined;
  signature: string | undefined;
  /** How many v1 signatures the header carried (one per secret signing). */
  signatures: number;
  verified: boolean;
  reason: string | undefined;
  received_at_ms: number;
  status: number;
}

export interface ListenerOptions {
  port?: number;
  host?: string;
  secrets: string[];
  tolerance_s?: number;
  /** The status to answer a verified delivery with (default 200). */
  answer?: (delivery: ReceivedDelivery) => number | Promise<number>;
  /** Called once per request, after it was answered. */
  onDelivery?: (delivery: ReceivedDelivery) => void;
  body_bytes_max?: number;
}

export interface WebhookListener {
  url: string;
  port: number;
  /** Everything received, in arrival order. */
  deliveries: ReceivedDelivery[];
  secrets: string[];
  close(): Promise<void>;
}

const BODY_BYTES_MAX = 1024 * 1024;

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage, bytes_max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > bytes_max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startWebhookListener(options: ListenerOptions): Promise<WebhookListener> {
  const deliveries: ReceivedDelivery[] = [];
  const secrets = options.secrets;
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const raw_body = await readBody(request, options.body_bytes_max ?? BODY_BYTES_MAX);
    if (raw_body === undefined) {
      response.writeHead(413).end();
      return;
    }
    const signature = header(request, SIGNATURE_HEADER);
    const check = verifyWebhookSignature(signature ?? '', raw_body, secrets, Math.floor(Date.now() / 1000), options.tolerance_s ?? 300);
    let event: ReceivedDelivery['event'] = null;
    try {
      event = JSON.parse(raw_body);
    } catch {
      // Kept as raw_body.
    }
    const attempt = header(request, 'Creditshop-Delivery-Attempt');
    const delivery: ReceivedDelivery = {
      event,
      raw_body,
      event_id: header(request, 'Creditshop-Event-Id'),
      event_type: header(request, 'Creditshop-Event-Type'),
      delivery_id: header(request, 'Creditshop-Delivery-Id'),
      attempt: attempt === undefined ? undefined : Number(attempt),
      signature,
      signatures: (signature ?? '').split(',').filter((part) => part.trim().startsWith('v1=')).length,
      verified: check.ok,
      reason: check.ok ? undefined : check.reason,
      received_at_ms: Date.now(),
      status: 401,
    };
    if (check.ok) delivery.status = (await options.answer?.(delivery)) ?? 200;
    deliveries.push(delivery);
    response.writeHead(delivery.status, { 'content-type': 'application/json' }).end(JSON.stringify({ received: check.ok }));
    options.onDelivery?.(delivery);
  };
  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.writeHead(500).end());
  });
  server.keepAliveTimeout = 65_000;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    port,
    deliveries,
    secrets,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
