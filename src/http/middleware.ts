import { randomUUID } from 'node:crypto';
import type { Next } from 'koa';
import getRawBody from 'raw-body';
import Joi from 'joi';
import { DomainError } from '../domain/errors.js';
import { findTextProblem, type TextProblem } from '../domain/text.js';
import type { AppContext } from './app-context.js';
import { PROBLEM_CONTENT_TYPE, internalProblem, problemFor, type Problem } from './problem.js';
import { signedBody } from '../shop/topups/psp-signature.js';
import { hasRoundedWholeNumber, ROUNDED_NUMBER } from '../domain/json-numbers.js';
import { DUPLICATE_KEY, duplicateKey } from './duplicate-keys.js';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** The caller's X-Request-Id when it is a sane one, else a new id. */
export function requestIdOf(incoming: string | undefined): string {
  return incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

/** Request id, X-Region, latency metric and one access-log line for every request. */
export function requestContext() {
  return async (ctx: AppContext, next: Next) => {
    const { deps } = ctx.state;
    ctx.state.request_id = requestIdOf(ctx.get('X-Request-Id'));
    ctx.state.started_at_ns = process.hrtime.bigint();
    ctx.set('X-Request-Id', ctx.state.request_id);
    ctx.set('X-Region', deps.region);
    // Balances, destinations and review notes: no browser keeps a copy after its user signs out.
    if (ctx.path.startsWith('/v1/')) ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } finally {
      const duration_s = Number(process.hrtime.bigint() - ctx.state.started_at_ns) / 1e9;
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      deps.metrics.http_request_duration_seconds.observe({ method: ctx.method, route, status: String(ctx.status) }, duration_s);
      deps.logger.info(
        {
          request_id: ctx.state.request_id,
          method: ctx.method,
          route,
          status: ctx.status,
          duration_ms: Math.round(duration_s * 1e4) / 10,
          actor: ctx.state.actor?.id,
        },
        'request',
      );
    }
  };
}

/**
 * HTTP/1.1 requires Host. The pod's server lets a request without it through (Node would answer an
 * empty 400) so that it is refused here, as problem+json.
 */
export function requireHost() {
  return async (ctx: AppContext, next: Next) => {
    const { httpVersionMajor, httpVersionMinor } = ctx.req;
    if (httpVersionMajor === 1 && httpVersionMinor >= 1 && ctx.get('Host') === '') {
      throw new DomainError('validation_error', 'the Host header is missing (HTTP/1.1 requires it)');
    }
    await next();
  };
}

/** Every failure leaves as RFC 9457 problem+json; unexpected ones are logged, never echoed. */
export function problemResponses() {
  return async (ctx: AppContext, next: Next) => {
    try {
      await next();
      if (ctx.body === undefined) routerProblem(ctx);
    } catch (error) {
      sendProblem(ctx, toProblem(ctx, error));
    }
  };
}

/**
 * What the router left without a body: no route (404), or a path that exists without this method.
 * The router answers 405 for a method it routes elsewhere and 501 for one it never routes (TRACE,
 * PROPFIND); for the client both mean "not on this path", so both are 405 with the `Allow` header.
 */
function routerProblem(ctx: AppContext): void {
  const allow = ctx.response.get('Allow');
  if ((ctx.status === 405 || ctx.status === 501) && allow !== '') {
    sendProblem(ctx, problemFor('validation_error', `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allow}`, {}, 405));
  } else if (ctx.status === 404 || ctx.status === 501) {
    ctx.remove('Allow');
    sendProblem(ctx, problemFor('not_found', `no route for ${ctx.method} ${ctx.path}`));
  }
}

function toProblem(ctx: AppContext, error: unknown): Problem {
  if (error instanceof DomainError) {
    if (error.code === 'unavailable') ctx.set('Retry-After', '1');
    if (error.code === 'rate_limited') ctx.set('Retry-After', String(error.extensions['retry_after_seconds'] ?? 1));
    return problemFor(error.code, error.detail, error.extensions);
  }
  if (error instanceof Joi.ValidationError) return validationProblem(error);
  const http_error = error as { type?: string; status?: number; expose?: boolean };
  if (http_error.type === 'entity.too.large') {
    return problemFor('validation_error', `request body exceeds ${ctx.state.deps.config.limits.body_limit_bytes} bytes`, {}, 413);
  }
  if (http_error.expose && typeof http_error.status === 'number' && http_error.status < 500) {
    return problemFor('validation_error', String((error as Error).message), {}, http_error.status);
  }
  ctx.state.deps.logger.error({ err: error, request_id: ctx.state.request_id }, 'unhandled error');
  return internalProblem();
}

/** At most this many of a request's validation errors are listed: the answer stays small whatever was sent. */
const VALIDATION_ERRORS_LISTED_MAX = 20;

export function validationProblem(error: Joi.ValidationError): Problem {
  const errors = error.details
    .slice(0, VALIDATION_ERRORS_LISTED_MAX)
    .map((detail) => ({ path: detail.path.join('.'), message: detail.message }));
  const more = error.details.length - errors.length;
  const detail = errors.map((entry) => entry.message).join('; ') + (more > 0 ? `; and ${more} more` : '');
  return problemFor('validation_error', detail, { errors });
}

function sendProblem(ctx: AppContext, problem: Problem): void {
  ctx.status = problem.status;
  ctx.type = PROBLEM_CONTENT_TYPE;
  ctx.body = { ...problem, request_id: ctx.state.request_id };
}

/** Where a request carries input: each gets the same text rule, named in the error. */
export type InputLocation = 'body' | 'path' | 'query';

const LOCATION_LABEL: Record<InputLocation, string> = { body: 'request body', path: 'path parameter', query: 'query parameter' };

/**
 * One rule for every string of every request: refuses (400 validation_error) text the database
 * cannot store, reserved object keys and nesting deeper than `depth_max`, before any route, joi
 * schema or fingerprint reads the input. Offending text is never echoed, only where it was.
 */
export function refuseUnacceptableInput(
  value: unknown,
  location: InputLocation,
  depth_max: number,
  array_items_max = Number.POSITIVE_INFINITY,
): void {
  const problem = findTextProblem(value, depth_max, array_items_max);
  if (!problem) return;
  const where = problem.path === '' ? `the ${LOCATION_LABEL[location]}` : `${LOCATION_LABEL[location]} "${problem.path}"`;
  const messages: Record<TextProblem['reason'], string> = {
    too_deep: `${where} is nested deeper than ${depth_max} levels`,
    too_many_items: `${where} holds more than ${array_items_max} items`,
    reserved_key: `"${problem.key}" is not allowed (in ${where})`,
    unstorable_text: `${where} contains text that cannot be stored (U+0000 or an unpaired UTF-16 surrogate)`,
  };
  const message = messages[problem.reason];
  throw new DomainError('validation_error', message, { errors: [{ path: problem.path, message }] });
}

/** A body we would misread: compressed (we do not inflate bodies) or declared in a charset that is not UTF-8. */
function refuseUnreadableEncoding(ctx: AppContext): void {
  const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    throw new DomainError('validation_error', 'request body must not be encoded (Content-Encoding): send it as it is');
  }
  const charset = ctx.request.charset.toLowerCase();
  if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8') {
    throw new DomainError('validation_error', 'request body must be UTF-8 JSON (the charset of Content-Type says otherwise)');
  }
}

/**
 * JSON is UTF-8 (RFC 8259): a byte that is not would be read as U+FFFD, storing something other
 * than what the client sent, so it is refused like text PostgreSQL refuses.
 */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function jsonText(bytes: Buffer): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new DomainError('validation_error', 'request body is not valid UTF-8');
  }
}

/**
 * Reads the request body up to the configured limit. `json` (every route but signed callbacks)
 * parses it and refuses anything but JSON, and whatever refuseUnacceptableInput refuses, before
 * the route sees it. `raw` keeps the exact bytes (and their text) for a route that must check a
 * signature over them before it judges them.
 */
export function requestBody(mode: 'json' | 'raw') {
  return async (ctx: AppContext, next: Next) => {
    if (!METHODS_WITH_BODY.has(ctx.method)) return next();
    const { limits } = ctx.state.deps.config;
    if (mode === 'json') refuseUnreadableEncoding(ctx);
    const bytes = await getRawBody(ctx.req, { limit: limits.body_limit_bytes, length: ctx.get('Content-Length') || undefined });
    if (mode === 'raw') {
      ctx.state.signed_body = signedBody(bytes);
      ctx.state.body = undefined;
      return next();
    }
    const raw = jsonText(bytes);
    if (raw.trim() === '') {
      ctx.state.body = undefined;
      return next();
    }
    if (!ctx.is('application/json', 'application/*+json')) {
      throw new DomainError('validation_error', 'request body must be application/json', {});
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new DomainError('validation_error', 'request body is not valid JSON');
    }
    refuseUnacceptableInput(body, 'body', limits.body_depth_max, limits.body_array_items_max);
    if (hasRoundedWholeNumber(raw)) throw new DomainError('validation_error', ROUNDED_NUMBER);
    const repeated = duplicateKey(raw);
    if (repeated !== undefined) throw new DomainError('validation_error', `${DUPLICATE_KEY}: ${JSON.stringify(repeated.slice(0, 100))}`);
    ctx.state.body = body;
    return next();
  };
}
