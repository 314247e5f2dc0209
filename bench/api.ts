import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../src/auth/tokens.js';
import { DEVELOPMENT_JWT_SECRET } from '../src/platform/config.js';
import { failureLabel, type Outcome } from './load.js';

/** The token subject of the load generator: its Idempotency-Keys are scoped to caller `service:bench`. */
export const BENCH_SERVICE = 'bench';
const REQUEST_TIMEOUT_MS = 60_000;
const TOKEN_LIFETIME_S = 3600;
const UNAVAILABLE_RETRIES_MAX = 20;
const UNAVAILABLE_BACKOFF_MS = 50;

export interface ApiResponse {
  status: number;
  text: string;
}

/**
 * A keep-alive JSON client for the pods, with one connection pool per pod. Requests are spread
 * over the pods round robin; every POST carries its own random Idempotency-Key (a UUID, as
 * real clients send; sequential keys would all land on one index page of idempotency_keys).
 */
export class PodClient {
  private readonly agents: Agent[];
  private next_pod = 0;
  /** Requests sent again because the server had closed their idle keep-alive socket. */
  stale_socket_resends = 0;

  private constructor(
    private readonly urls: readonly URL[],
    private readonly authorization: string,
    sockets_per_pod: number,
  ) {
    this.agents = urls.map(() => new Agent({ keepAlive: true, maxSockets: sockets_per_pod }));
  }

  /** A service caller that may create, fund and debit any account, buy for it, write the catalog (admin) and reconcile. */
  static async create(urls: readonly string[], sockets_per_pod: number): Promise<PodClient> {
    const token = await mintToken(
      { sub: BENCH_SERVICE, scope: 'accounts:write credits:write admin', expires_in_seconds: TOKEN_LIFETIME_S },
      { secret: DEVELOPMENT_JWT_SECRET },
    );
    return new PodClient(
      urls.map((url) => new URL(url)),
      `Bearer ${token}`,
      sockets_per_pod,
    );
  }

  /**
   * POSTs to the next pod in turn, with a fresh Idempotency-Key unless one is given. A request
   * that finds its kept-alive socket closed by the server (the race Node documents for
   * `request.reusedSocket`) is sent again once with the same key: the service answers it
   * exactly once either way. Such resends are counted.
   */
  async post(path: string, body: unknown, key: string = randomUUID(), token?: string): Promise<ApiResponse> {
    const pod = this.next_pod++ % this.urls.length;
    const payload = JSON.stringify(body);
    const authorization = token === undefined ? this.authorization : `Bearer ${token}`;
    try {
      return await this.send(pod, 'POST', path, payload, key, authorization);
    } catch (error) {
      if (!(error as { stale_socket?: boolean }).stale_socket) throw error;
      this.stale_socket_resends += 1;
      return this.send(pod, 'POST', path, payload, key, authorization);
    }
  }

  /** GET from the next pod in turn. */
  async get(path: string): Promise<ApiResponse> {
    return this.send(this.next_pod++ % this.urls.length, 'GET', path);
  }

  /** PUT (idempotent by itself, no key) to the next pod in turn. */
  async put(path: string, body: unknown): Promise<ApiResponse> {
    return this.send(this.next_pod++ % this.urls.length, 'PUT', path, JSON.stringify(body));
  }

  /**
   * POSTs, repeating the request with the same Idempotency-Key while it is answered 503 or the
   * connection fails (SPEC §4: safe to retry); `on_retry` hears why.
   */
  async postUntilDefinite(path: string, body: unknown, on_retry: (reason: string) => void): Promise<ApiResponse> {
    const key = randomUUID();
    for (let attempt = 1; ; attempt += 1) {
      const response = await this.post(path, body, key).catch((error: unknown) => {
        if (attempt >= UNAVAILABLE_RETRIES_MAX) throw error;
        return failureLabel(error);
      });
      if (typeof response !== 'string' && (response.status !== 503 || attempt >= UNAVAILABLE_RETRIES_MAX)) return response;
      on_retry(typeof response === 'string' ? response : '503');
      await sleep(Math.random() * UNAVAILABLE_BACKOFF_MS * attempt);
    }
  }

  /** Prometheus counters summed over every label set and every pod. */
  async counters<N extends string>(names: readonly N[]): Promise<Record<N, number>> {
    const totals = Object.fromEntries(names.map((name) => [name, 0])) as Record<N, number>;
    const pages = await Promise.all(this.urls.map((_, pod) => this.send(pod, 'GET', '/metrics')));
    for (const line of pages.flatMap((page) => page.text.split('\n'))) {
      const name = /^([a-z_]+)[{ ]/.exec(line)?.[1] as N | undefined;
      if (name !== undefined && name in totals) totals[name] += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return totals;
  }

  close(): void {
    for (const agent of this.agents) agent.destroy();
  }

  private send(
    pod: number,
    method: string,
    path: string,
    payload?: string,
    key?: string,
    authorization = this.authorization,
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = { Authorization: authorization };
    if (payload !== undefined)
      Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) });
    if (key !== undefined) headers['Idempotency-Key'] = key;
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.urls[pod]),
        { method, headers, agent: this.agents[pod], timeout: REQUEST_TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'TIMEOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => {
        reject(Object.assign(error, { stale_socket: req.reusedSocket && error.code === 'ECONNRESET' }));
      });
      req.end(payload);
    });
  }
}

/** `undefined` for the expected status, else "<status> <problem code>". */
export function outcomeOf(response: ApiResponse, expected_status: number): Outcome {
  if (response.status === expected_status) return undefined;
  let code = 'unknown';
  try {
    code = (JSON.parse(response.text) as { code?: string }).code ?? code;
  } catch {
    // Not problem+json: the status alone describes it.
  }
  return `${response.status} ${code}`;
}

/** Throws unless the response has the expected status (setup steps must all succeed). */
export function expectStatus(response: ApiResponse, expected_status: number, what: string): void {
  const outcome = outcomeOf(response, expected_status);
  if (outcome !== undefined) throw new Error(`${what}: ${outcome}: ${response.text.slice(0, 300)}`);
}
