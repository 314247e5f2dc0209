import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';

// Real network faults for tests, on loopback: a TCP proxy in front of PostgreSQL whose connections can
// be cut, and an HTTP proxy in front of a pod that can lose an answer after the pod has given it.

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

export interface CuttableProxy {
  /** postgres://… of the target with this proxy's port. */
  url: string;
  /** Ends every connection through the proxy and refuses new ones (accepted, then closed at once) until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy to the database at `target_url`: while cut, the database is unreachable for whoever connects through it. */
export async function startCuttableProxy(target_url: string): Promise<CuttableProxy> {
  const target = new URL(target_url);
  const sockets = new Set<Socket>();
  let cut = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (cut) return void client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = await listen(server);
  const proxied = new URL(target_url);
  proxied.port = String(port);
  return {
    url: proxied.toString(),
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      cut = false;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Headers not forwarded: those of one connection, not of the message (RFC 9110 §7.6.1), the length (set again), and
 * the encoding (fetch has decoded the body).
 */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host', 'upgrade']);

export interface AnswerLosingProxy {
  url: string;
  /** Requests carrying this Idempotency-Key reach the pod, whose answer is then dropped with the connection, `times` times. */
  loseAnswers(idempotency_key: string, times: number): void;
  /** Answers of the pod, forwarded in full (the answers lost included), as "METHOD path status". */
  readonly forwarded: string[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An HTTP proxy to the pod at `target`: it forwards every request, and for some it lets the pod answer, then hangs up. */
export async function startAnswerLosingProxy(target: string): Promise<AnswerLosingProxy> {
  const losses = new Map<string, number>();
  const forwarded: string[] = [];
  const forward = async (request: IncomingMessage, reply: ServerResponse) => {
    const headers = Object.entries(request.headers).flatMap(([name, value]) =>
      NOT_FORWARDED.has(name) || value === undefined ? [] : [[name, String(value)] as [string, string]],
    );
    const body = await readBody(request);
    const answer = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers,
      body: body.length > 0 ? new Uint8Array(body) : undefined,
    });
    const text = Buffer.from(await answer.arrayBuffer());
    forwarded.push(`${request.method} ${request.url} ${answer.status}`);
    const key = request.headers['idempotency-key'];
    const to_lose = typeof key === 'string' ? (losses.get(key) ?? 0) : 0;
    if (to_lose > 0) {
      losses.set(key as string, to_lose - 1);
      request.socket.destroy();
      return;
    }
    const kept = [...answer.headers].filter(([name]) => !NOT_FORWARDED.has(name));
    reply.writeHead(answer.status, Object.fromEntries(kept));
    reply.end(text);
  };
  // A pod that cannot be reached is a connection the client sees fail, as without the proxy.
  const server = createHttpServer((request, reply) => void forward(request, reply).catch(() => request.socket.destroy()));
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    loseAnswers: (idempotency_key, times) => losses.set(idempotency_key, times),
    forwarded,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
