import Joi from 'joi';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';

/** The one table from stable error codes to HTTP statuses (SPEC §4). */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  validation_error: 400,
  idempotency_key_required: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  idempotency_key_in_flight: 409,
  already_exists: 409,
  insufficient_funds: 409,
  invalid_state: 409,
  idempotency_key_reused: 422,
  refund_exceeds_remaining: 422,
  not_refundable: 422,
  price_changed: 422,
  currency_mismatch: 422,
  limit_exceeded: 422,
  account_frozen: 409,
  account_closed: 409,
  rate_limited: 429,
  unavailable: 503,
};

export const TITLE_BY_CODE: Record<ErrorCode, string> = {
  validation_error: 'The request is not valid',
  idempotency_key_required: 'An Idempotency-Key header is required',
  unauthenticated: 'Missing or invalid credentials',
  forbidden: 'Not allowed',
  not_found: 'Not found',
  idempotency_key_in_flight: 'A request with this Idempotency-Key is still running',
  already_exists: 'Already exists',
  insufficient_funds: 'Insufficient funds',
  invalid_state: 'Invalid state for this operation',
  idempotency_key_reused: 'Idempotency-Key reused with a different request',
  refund_exceeds_remaining: 'Refund exceeds what is left to refund',
  not_refundable: 'Not refundable',
  price_changed: 'The price has changed',
  currency_mismatch: 'Currency mismatch',
  limit_exceeded: 'A KYC limit refuses this operation',
  account_frozen: 'The account is frozen',
  account_closed: 'The account is closed',
  rate_limited: 'Too many requests',
  unavailable: 'Service temporarily unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode | 'internal_error';
  request_id?: string;
  [extension: string]: unknown;
}

/** Every error body (RFC 9457), with the extensions that some codes carry; /openapi.json narrows `code` per status. */
export const problemSchema = Joi.object({
  type: Joi.string().description('urn:creditshop:problem:<code>'),
  title: Joi.string(),
  status: Joi.number().integer(),
  detail: Joi.string(),
  code: Joi.string().valid(...ERROR_CODES, 'internal_error'),
  request_id: Joi.string()
    .optional()
    .description('Also in X-Request-Id; quote it when reporting a problem. Absent only on answers Node gives before the app (431)'),
  errors: Joi.array()
    .items(Joi.object({ path: Joi.string().allow(''), message: Joi.string() }))
    .optional()
    .description('validation_error: what is wrong where (path "" is the whole input)'),
  retry_after_seconds: Joi.number().integer().optional().description('rate_limited'),
  available: Joi.number().integer().optional().description('insufficient_funds: what the wallet has available'),
  remaining: Joi.number()
    .integer()
    .optional()
    .description('refund_exceeds_remaining: what is left to refund; limit_exceeded: what the limit still allows (0 when nothing)'),
  total: Joi.number().integer().optional().description("price_changed: the server's total"),
  currency: Joi.string().optional().description('price_changed: the currency of total; limit_exceeded: the wallet the limit is on'),
  limit: Joi.string().optional().description('limit_exceeded: the name of the KYC limit (as in GET /v1/accounts/{id}/limits)'),
  value: Joi.alternatives(Joi.number().integer(), Joi.boolean()).optional().description('limit_exceeded: the value of that limit'),
  resets_at: Joi.string()
    .allow(null)
    .optional()
    .description('limit_exceeded: when a daily or hourly limit starts again (UTC); null for a limit per operation or balance'),
  item_id: Joi.string().optional().description('The catalog item the problem is about'),
  reasons: Joi.array().items(Joi.string()).optional().description('invalid_state on closing an account: why it cannot close yet'),
})
  .prefs({ presence: 'required' })
  .id('Problem');

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemFor(code: ErrorCode, detail: string, extensions: Record<string, unknown> = {}, status?: number): Problem {
  return {
    type: `urn:creditshop:problem:${code}`,
    title: TITLE_BY_CODE[code],
    status: status ?? STATUS_BY_CODE[code],
    detail,
    code,
    ...extensions,
  };
}

export function internalProblem(): Problem {
  return {
    type: 'urn:creditshop:problem:internal_error',
    title: 'Internal error',
    status: 500,
    detail: 'an unexpected error occurred; it has been logged with this request id',
    code: 'internal_error',
  };
}
