import { checkReadiness } from '../../db/readiness.js';
import { defineRoute, type RouteSpec } from '../route.js';

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
      handler: async (ctx) => ({ status: 200, body: { status: 'ok', region: ctx.state.deps.region, pid: process.pid } }),
    }),
    defineRoute({
      operation_id: 'ready',
      method: 'get',
      path: '/ready',
      summary: 'The database is reachable and every migration is applied',
      tag: 'operations',
      auth: 'public',
      responses: { 200: 'Ready', 503: 'Not ready' },
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
      handler: async () => ({ status: 200, body: openapi() }),
    }),
  ];
}
