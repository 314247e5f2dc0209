import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { type Fetch, RETRY_DEFAULTS, type RetryOptions, sendWithRetries } from './retry.js';
import { type components, IDEMPOTENT_OPERATIONS, type paths } from './schema.js';

// The typed client of the creditshop API (openapi-fetch over the types generated from /openapi.json,
// src/client/schema.ts). It imports nothing of Node: the console runs it in the browser.

export type { RetryOptions } from './retry.js';
export type { components, paths } from './schema.js';
export type Schemas = components['schemas'];
/** Every error answer (RFC 9457 problem+json); each operation's error type narrows `status` and `code`. */
export type Problem = Schemas['Problem'];
export type ProblemCode = Problem['code'];
/** A currency the API knows (the catalog's and the wallets'). */
export type Currency = paths['/v1/accounts/{id}/credits']['post']['requestBody']['content']['application/json']['currency'];
/** A region of the topology (regions/regions.json). */
export type Region = NonNullable<paths['/v1/accounts']['post']['requestBody']['content']['application/json']['home_region']>;

type IdempotencyKeyOptional<Header> = Omit<Header, 'Idempotency-Key'> & { 'Idempotency-Key'?: string };

/** An operation whose Idempotency-Key the caller may leave to the client. */
type KeyOptional<Operation> = Operation extends { parameters: { header: { 'Idempotency-Key': string } } }
  ? Omit<Operation, 'parameters'> & {
      parameters: Omit<Operation['parameters'], 'header'> & { header?: IdempotencyKeyOptional<Operation['parameters']['header']> };
    }
  : Operation;

/** The generated paths, with the Idempotency-Key optional where the client supplies one. */
export type CreditshopPaths = { [Path in keyof paths]: { [Method in keyof paths[Path]]: KeyOptional<paths[Path][Method]> } };
export type CreditshopClient = Client<CreditshopPaths>;

export interface CreditshopClientOptions {
  /** A pod, e.g. http://127.0.0.1:3001 (no trailing /v1: the paths carry it). */
  baseUrl: string;
  /** A player or service JWT, sent as `Authorization: Bearer`; leave it out for public routes. */
  token?: string;
  /** The fetch that sends each attempt (default: the global fetch). */
  fetch?: Fetch;
  /** Bounds of the retries of 503 and failed connections (RETRY_DEFAULTS for what is left out). */
  retry?: Partial<RetryOptions>;
}

const IDEMPOTENT = new Set(IDEMPOTENT_OPERATIONS);

/** A key for every idempotent call that came without one; retries reuse the request, and so the key. */
const idempotencyKeys: Middleware = {
  onRequest({ request, schemaPath }) {
    if (IDEMPOTENT.has(`${request.method} ${schemaPath}`) && !request.headers.has('Idempotency-Key')) {
      request.headers.set('Idempotency-Key', crypto.randomUUID());
    }
    return request;
  },
};

/**
 * A client of one pod. Every POST that takes an Idempotency-Key gets the caller's key or a new one, and is
 * retried with that same key on 503 (after Retry-After) and on a failed connection, as reads are; no other
 * status is ever retried. Answers come back as openapi-fetch gives them: `{ data }` or `{ error }`, the error
 * being the typed Problem. A connection that still fails when the retries are spent rejects.
 */
export function createCreditshopClient(options: CreditshopClientOptions): CreditshopClient {
  const retry: RetryOptions = { ...RETRY_DEFAULTS, ...options.retry };
  const send: Fetch = options.fetch ?? ((request) => globalThis.fetch(request));
  const client = createClient<CreditshopPaths>({
    baseUrl: options.baseUrl,
    headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
    fetch: (request) => sendWithRetries(send, request, retry),
  });
  client.use(idempotencyKeys);
  return client;
}
