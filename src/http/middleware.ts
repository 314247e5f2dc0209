import { randomUUID } from 'node:crypto';
import type { Next } from 'koa';
import getRawBody from 'raw-body';
import Joi from 'joi';
import { DomainError } from '../domain/errors.js';
import { ReplayedFailure } from '../idempotency/command-runner.js';
import type { AppContext } from './app-context.js';
import { PROBLEM_CONTENT_TYPE, internalProblem, problemFor, type Problem } from './problem.js';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** Request id, X-Region, latency metric and one access-log line for every request. */
export function requestContext() {
  return async (ctx: AppContext, next: Next) => {
    const { deps } = ctx.state;
    const incoming = ctx.get('X-Request-Id');
    ctx.state.request_id = REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    ctx.state.started_at_ns = process.hrtime.bigint();
    ctx.set('X-Request-Id', ctx.state.request_id);
    ctx.set('X-Region', deps.region);
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

/** Every failure leaves as RFC 9457 problem+json; unexpected ones are logged, never echoed. */
export function problemResponses() {
  return async (ctx: AppContext, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        sendProblem(ctx, problemFor('not_found', `no route for ${ctx.method} ${ctx.path}`));
      }
    } catch (error) {
      sendProblem(ctx, toProblem(ctx, error));
    }
  };
}

function toProblem(ctx: AppContext, error: unknown): Problem {
  if (error instanceof ReplayedFailure) ctx.set('Idempotent-Replayed', 'true');
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

export function validationProblem(error: Joi.ValidationError): Problem {
  const errors = error.details.map((detail) => ({ path: detail.path.join('.'), message: detail.message }));
  return problemFor('validation_error', errors.map((entry) => entry.message).join('; '), { errors });
}

function sendProblem(ctx: AppContext, problem: Problem): void {
  ctx.status = problem.status;
  ctx.type = PROBLEM_CONTENT_TYPE;
  ctx.body = { ...problem, request_id: ctx.state.request_id };
}

/**
 * Reads JSON bodies up to the configured limit and keeps the raw text (PSP signatures are
 * computed over the exact bytes). Anything but JSON is refused, except on `raw_paths`: signed
 * callbacks check the signature over the raw text themselves, and record a signed body that is
 * not JSON instead of refusing it.
 */
export function jsonBody(raw_paths: ReadonlySet<string>) {
  return async (ctx: AppContext, next: Next) => {
    if (!METHODS_WITH_BODY.has(ctx.method)) return next();
    const limit = ctx.state.deps.config.limits.body_limit_bytes;
    const raw = await getRawBody(ctx.req, { limit, length: ctx.get('Content-Length') || undefined, encoding: 'utf8' });
    ctx.state.raw_body = raw;
    if (raw_paths.has(ctx.path)) return next();
    if (raw.trim() === '') {
      ctx.state.body = undefined;
      return next();
    }
    if (!ctx.is('application/json', 'application/*+json')) {
      throw new DomainError('validation_error', 'request body must be application/json', {});
    }
    try {
      ctx.state.body = JSON.parse(raw);
    } catch {
      throw new DomainError('validation_error', 'request body is not valid JSON');
    }
    return next();
  };
}
