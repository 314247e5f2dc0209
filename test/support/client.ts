import { type CreditshopClient, type CreditshopClientOptions, createCreditshopClient } from '../../src/client/creditshop-client.js';
import { contractOf, recordViolations } from './openapi-contract.js';

// The typed client as the tests use it: every answer it receives, each retry's included, is checked
// against the /openapi.json of the server that gave it, like request() does (contract-setup.ts fails the
// test on any departure), and its exact bytes are kept for byte-for-byte comparisons.

/** Statuses whose Response may not have a body (the Fetch standard's null body statuses). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const wire_texts = new WeakMap<Response, string>();

/** The global fetch, recording each answer's departures from the contract of the server that answered. */
export async function contractCheckedFetch(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const contract = await contractOf(url.origin);
  const response = await fetch(request);
  const text = await response.text();
  const path = `${url.pathname}${url.search}`;
  recordViolations(contract, { method: request.method, path, status: response.status, headers: response.headers, text });
  const received = new Response(NULL_BODY_STATUSES.has(response.status) ? null : text, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  wire_texts.set(received, text);
  return received;
}

/** The body of an answer of a client() exactly as it went over the wire. */
export function wireText(response: Response): string {
  const text = wire_texts.get(response);
  if (text === undefined) throw new Error('not an answer received through contractCheckedFetch');
  return text;
}

/** A typed client of one pod whose answers are checked against the pod's /openapi.json. */
export function client(
  baseUrl: string,
  token?: string,
  options: Omit<CreditshopClientOptions, 'baseUrl' | 'token'> = {},
): CreditshopClient {
  return createCreditshopClient({ baseUrl, token, fetch: contractCheckedFetch, ...options });
}
