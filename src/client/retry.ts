// Retries of one call of the typed client: only where repeating cannot do anything twice (a request
// carrying an Idempotency-Key, or a read), only on 503 and on a connection that failed, with the very
// same request (so the same key), bounded in attempts and in time. Runs in browsers as in Node.

export interface RetryOptions {
  /** Attempts of one call at most, the first included (1: never retry). */
  attempts_max: number;
  /** Time one call may take from its first attempt; a wait that would end later is not started and the last answer is returned. */
  elapsed_max_ms: number;
  /** The backoff before retry n is backoff_initial_ms × 2^(n-1), at most backoff_max_ms, jittered. */
  backoff_initial_ms: number;
  backoff_max_ms: number;
}

export const RETRY_DEFAULTS: RetryOptions = { attempts_max: 5, elapsed_max_ms: 30_000, backoff_initial_ms: 200, backoff_max_ms: 5_000 };

export type Fetch = (request: Request) => Promise<Response>;

const READ_METHODS = new Set(['GET', 'HEAD']);

/** What a second attempt cannot make happen twice: the server replays a keyed request, and reads change nothing. */
function isRepeatable(request: Request): boolean {
  return request.headers.has('Idempotency-Key') || READ_METHODS.has(request.method);
}

/**
 * fetch rejects with a TypeError when no answer came (refused, reset, DNS; in browsers and in Node's undici
 * alike); an abort or a timeout the caller set is a DOMException and ends the call.
 */
function isConnectionError(error: unknown, request: Request): boolean {
  return error instanceof TypeError && !request.signal.aborted;
}

/** Retry-After in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now_ms = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  // An HTTP date starts with the name of its day ("Tue, 01 Dec 2026 ..."); Date.parse alone would take "-1" for a year.
  if (!/^[A-Za-z]{3}/.test(value.trim())) return undefined;
  const date_ms = Date.parse(value);
  return Number.isNaN(date_ms) ? undefined : Math.max(0, date_ms - now_ms);
}

/**
 * The wait before retry number `retry` (1 for the first). Retry-After is a floor, never shortened; the jitter
 * on top spreads the clients that one outage told to come back at the same moment. Without it (a failed
 * connection): between half and all of the backoff.
 */
export function retryDelayMs(retry: number, retry_after_ms: number | undefined, options: RetryOptions): number {
  const backoff_ms = Math.min(options.backoff_max_ms, options.backoff_initial_ms * 2 ** (retry - 1));
  if (retry_after_ms !== undefined) return retry_after_ms + Math.random() * backoff_ms;
  return backoff_ms / 2 + (Math.random() * backoff_ms) / 2;
}

function sleep(delay_ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, delay_ms);
    signal.addEventListener('abort', abort, { once: true });
  });
}

type Attempt = { response: Response } | { error: unknown };

async function attempt(send: Fetch, request: Request): Promise<Attempt> {
  try {
    return { response: await send(request.clone()) };
  } catch (error) {
    if (!isConnectionError(error, request)) throw error;
    return { error };
  }
}

/** `send` with the retries above: resolves with the first answer that is not a 503, or the last one; rejects with the last error. */
export async function sendWithRetries(send: Fetch, request: Request, options: RetryOptions): Promise<Response> {
  if (!isRepeatable(request)) return send(request);
  const started_ms = Date.now();
  for (let retry = 1; ; retry += 1) {
    const outcome = await attempt(send, request);
    if ('response' in outcome && outcome.response.status !== 503) return outcome.response;
    const retry_after_ms = 'response' in outcome ? retryAfterMs(outcome.response.headers.get('Retry-After')) : undefined;
    const delay_ms = retryDelayMs(retry, retry_after_ms, options);
    const out_of_budget = retry >= options.attempts_max || Date.now() + delay_ms - started_ms > options.elapsed_max_ms;
    if (out_of_budget) {
      if ('response' in outcome) return outcome.response;
      throw outcome.error;
    }
    // The answer is not used: free its connection.
    if ('response' in outcome) await outcome.response.body?.cancel();
    await sleep(delay_ms, request.signal);
  }
}
