import Joi from 'joi';
import { checkReadiness } from '../../db/readiness.js';
import { viewSchema } from '../../platform/view-schema.js';
import { defineRoute, type RouteSpec } from '../route.js';

const healthSchema = viewSchema('Health', { status: Joi.valid('ok'), region: Joi.string(), pid: Joi.number().integer() });
const readySchema = viewSchema('Ready', {
  status: Joi.valid('ready'),
  region: Joi.string(),
  dialect: Joi.string().valid('postgres', 'cockroach'),
});
const notReadySchema = viewSchema('NotReady', {
  status: Joi.string().valid('migrations_pending', 'database_unreachable', 'database_read_only'),
  pending: Joi.array().items(Joi.string()).optional().description('migrations_pending: the migrations not applied yet'),
});
/** The document is checked by what it is built from; its answer only promises the OpenAPI envelope. */
const openApiSchema = viewSchema('OpenApiDocument', {
  openapi: Joi.valid('3.1.0'),
  info: Joi.object().unknown(true),
  servers: Joi.array().items(Joi.object().unknown(true)).optional(),
  components: Joi.object().unknown(true),
  paths: Joi.object().unknown(true),
});

export function operationRoutes(openapi: () => unknown): RouteSpec[] {
  return [
    defineRoute({
      operation_id: 'health',
      method: 'get',
      path: '/health',
      summary: 'The process is up',
      tag: 'operations',
      auth: 'public',
      responses: { 200: 'Up' },
      response_schema: healthSchema,
      needs_database: false,
      handler: async (ctx) => ({ status: 200, body: { status: 'ok', region: ctx.state.deps.region, pid: process.pid } }),
    }),
    defineRoute({
      operation_id: 'ready',
      method: 'get',
      path: '/ready',
      summary: 'The database is reachable and every migration is applied',
      tag: 'operations',
      auth: 'public',
      responses: {
        200: 'Ready',
        503: {
          description: 'Not ready: the database is unreachable or takes no writes, or migrations are pending',
          schema: notReadySchema,
        },
      },
      response_schema: readySchema,
      // It answers a database failure itself, with its own body.
      needs_database: false,
      handler: async (ctx) => {
        const { db, transactions, config, region } = ctx.state.deps;
        const readiness = await checkReadiness(transactions, config.ready_probe_timeout_ms);
        if (readiness.status !== 'ready') return { status: 503, body: readiness };
        return { status: 200, body: { status: 'ready', region, dialect: db.dialect } };
      },
    }),
    defineRoute({
      operation_id: 'metrics',
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of this pod',
      tag: 'operations',
      auth: 'public',
      responses: { 200: 'Prometheus text format' },
      response_content_type: 'text/plain',
      needs_database: false,
      handler: async (ctx) => {
        const { registry } = ctx.state.deps.metrics;
        return { status: 200, body: await registry.metrics(), headers: { 'Content-Type': registry.contentType } };
      },
    }),
    defineRoute({
      operation_id: 'openapi',
      method: 'get',
      path: '/openapi.json',
      summary: 'This API as OpenAPI 3.1',
      tag: 'operations',
      auth: 'public',
      responses: { 200: 'OpenAPI document' },
      response_schema: openApiSchema,
      needs_database: false,
      handler: async () => ({ status: 200, body: openapi() }),
    }),
  ];
}
