import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../src/webhooks/signature.js';

// The receiver of scenario wh, in a process of its own (forked by bench/webhooks.ts): an
// integrator's server, not part of the service's CPU. It verifies every signature, answers 200,
// and keeps, per event, when it was first acknowledged and how late (from the event's created_at).
// Driven over IPC: listen / close / lags.

type Command = { type: 'listen'; port: number; secret: string } | { type: 'close' } | { type: 'lags'; from_ms: number; to_ms: number };

const first = new Map<string, { received_ms: number; lag_ms: number }>();
let server: Server | undefined;
let secret = '';
let rejected = 0;

function handle(body: string, signature: string): number {
  if (!verifyWebhookSignature(signature, body, [secret], Math.floor(Date.now() / 1000), 300).ok) {
    rejected += 1;
    return 401;
  }
  const event = JSON.parse(body) as { id: string; created_at: string };
  const received_ms = Date.now();
  if (!first.has(event.id)) first.set(event.id, { received_ms, lag_ms: received_ms - Date.parse(event.created_at) });
  return 200;
}

async function listen(port: number): Promise<number> {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = handle(Buffer.concat(chunks).toString('utf8'), String(request.headers[SIGNATURE_HEADER.toLowerCase()] ?? ''));
      response.writeHead(status).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

async function close(): Promise<void> {
  const closing = server;
  server = undefined;
  if (!closing) return;
  const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
  closing.closeAllConnections();
  await closed;
}

process.on('message', (command: Command) => {
  void (async () => {
    if (command.type === 'listen') {
      secret = command.secret;
      process.send!({ type: 'listening', port: await listen(command.port) });
    } else if (command.type === 'close') {
      await close();
      process.send!({ type: 'closed' });
    } else {
      const lags = [...first.values()]
        .filter((entry) => entry.received_ms >= command.from_ms && entry.received_ms < command.to_ms)
        .map((entry) => entry.lag_ms);
      process.send!({ type: 'lags', lags, acknowledged: first.size, rejected });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
