import type Joi from 'joi';
import joiToJsonModule from 'joi-to-json';
import type { RouteSpec } from './route.js';
import { STATUS_BY_CODE } from './problem.js';

// The package is CommonJS (module.exports = parse) behind ESM-style typings.
const joiToJson = joiToJsonModule as unknown as typeof joiToJsonModule.parse;

const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: [...Object.keys(STATUS_BY_CODE), 'internal_error'] },
    request_id: { type: 'string' },
  },
};

function jsonSchema(schema: Joi.Schema): Record<string, unknown> {
  return joiToJson(schema as never, 'open-api-3.1') as Record<string, unknown>;
}

function parameters(spec: RouteSpec) {
  const fromSchema = (schema: Joi.ObjectSchema | undefined, location: 'path' | 'query') => {
    if (!schema) return [];
    const converted = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
    return Object.entries(converted.properties ?? {}).map(([name, property]) => ({
      name,
      in: location,
      required: location === 'path' || (converted.required ?? []).includes(name),
      schema: property,
    }));
  };
  const headers = spec.idempotent
    ? [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } }]
    : [];
  return [...fromSchema(spec.params, 'path'), ...fromSchema(spec.query, 'query'), ...headers];
}

function operation(spec: RouteSpec) {
  const responses: Record<string, unknown> = {};
  for (const [status, description] of Object.entries(spec.responses)) {
    const is_error = Number(status) >= 400;
    const schema = is_error ? PROBLEM_SCHEMA : spec.response_schema ? jsonSchema(spec.response_schema) : { type: 'object' };
    responses[status] = { description, content: { [is_error ? 'application/problem+json' : 'application/json']: { schema } } };
  }
  return {
    operationId: spec.operation_id,
    summary: spec.summary,
    tags: [spec.tag],
    security: spec.auth === 'public' ? [] : [{ [spec.auth]: [] }],
    parameters: parameters(spec),
    ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.body) } } } } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document, generated from the same route list the router is built from. */
export function buildOpenApi(routes: readonly RouteSpec[], server_url?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    paths[spec.path] = { ...paths[spec.path], [spec.method]: operation(spec) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'creditshop',
      version: '1.0.0',
      description: 'Multi-region game-commerce backend: wallets, ledger, shop, top-ups, transfers, seller aggregator.',
    },
    ...(server_url ? { servers: [{ url: server_url }] } : {}),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        psp_signature: { type: 'apiKey', in: 'header', name: 'Psp-Signature' },
        payout_signature: { type: 'apiKey', in: 'header', name: 'Payout-Signature' },
      },
      schemas: { Problem: PROBLEM_SCHEMA },
    },
    paths,
  };
}
