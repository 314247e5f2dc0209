import Joi from 'joi';
import { getEvent, listEvents } from '../../events/event-reads.js';
import { eventViewSchema } from '../../events/event-records.js';
import { ALL_EVENTS, EVENT_TYPES, isEventType } from '../../events/event-types.js';
import type { Config } from '../../platform/config.js';
import { deleteEndpoint, updateEndpoint } from '../../webhooks/change-endpoint.js';
import { createEndpoint } from '../../webhooks/create-endpoint.js';
import { deliveryViewSchema } from '../../webhooks/delivery-records.js';
import { createdEndpointSchema, endpointViewSchema, rotatedSecretSchema } from '../../webhooks/endpoint-records.js';
import { revealSecrets } from '../../webhooks/endpoint-secrets.js';
import { getEndpoint, listDeliveries, listEndpoints } from '../../webhooks/read-endpoints.js';
import { redeliverEvent } from '../../webhooks/redeliver-event.js';
import { rotateSecret } from '../../webhooks/rotate-secret.js';
import { defineRoute, type RouteSpec } from '../route.js';
import {
  accountIdSchema,
  isoInstantTextSchema,
  pageQuery,
  pageSchema,
  partnerUrlSchema,
  textSchema,
  uuidParams,
  uuidSchema,
} from './schemas.js';

/** An answer showing a signing secret carries its marker as stored: the secret itself goes out (src/webhooks/endpoint-secrets.ts). */
const revealingSecrets: RouteSpec['present'] = (deps, answer) =>
  typeof answer.body === 'string' ? { ...answer, body: revealSecrets(answer.body, deps.config.webhooks.secrets_key) } : answer;

const TYPES_MESSAGE = `must be event types (${EVENT_TYPES.join(', ')})`;

export function eventRoutes(config: Config): RouteSpec[] {
  const { url_length_max, private_urls, description_length_max, secret_overlap_seconds } = config.webhooks;
  const page = (extra: Joi.PartialSchemaMap) => pageQuery(config.limits.page_size_max, config.limits.page_size_default, extra);
  const types = Joi.string()
    .max(64 * EVENT_TYPES.length)
    .custom((value: string, helpers) => {
      const listed = value.split(',');
      return listed.every(isEventType) ? [...new Set(listed)] : helpers.message({ custom: `{{#label}} ${TYPES_MESSAGE}, comma-separated` });
    });
  const url = partnerUrlSchema({ length_max: url_length_max, private_urls });
  const enabled_events = Joi.array()
    .items(
      Joi.string()
        .valid(ALL_EVENTS, ...EVENT_TYPES)
        .messages({ 'any.only': `{{#label}} ${TYPES_MESSAGE}, or "${ALL_EVENTS}"` }),
    )
    .min(1)
    .max(EVENT_TYPES.length + 1)
    .unique();
  const description = textSchema(description_length_max);
  const endpointParams = uuidParams;
  const adminResponses = { 401: 'Unauthenticated', 403: 'Requires admin' };
  return [
    defineRoute({
      operation_id: 'listEvents',
      method: 'get',
      path: '/v1/events',
      summary:
        'Events newest first (events:read or admin; a player: their own account). With account_id, paged in the ' +
        "account's commit order; without, events at least EVENTS_SETTLE_WINDOW_MS old",
      tag: 'events',
      auth: 'bearer',
      query: page({
        type: types,
        account_id: accountIdSchema,
        created_after: isoInstantTextSchema.description('Events created strictly after this instant (exclusive)'),
        created_before: isoInstantTextSchema.description('Events created strictly before this instant (exclusive)'),
      }),
      responses: { 200: 'A page of events', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: pageSchema('EventPage', eventViewSchema),
      handler: async (ctx, { actor, query }) => ({ status: 200, body: await listEvents(ctx.state.deps, actor, query) }),
    }),
    defineRoute({
      operation_id: 'getEvent',
      method: 'get',
      path: '/v1/events/{id}',
      summary: 'An event (events:read or admin; a player: an event of their own account)',
      tag: 'events',
      auth: 'bearer',
      params: uuidParams,
      responses: { 200: 'The event', 400: 'Malformed id', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'Not found' },
      response_schema: eventViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getEvent(ctx.state.deps, actor, params.id) }),
    }),
    defineRoute({
      operation_id: 'redeliverEvent',
      method: 'post',
      path: '/v1/events/{id}/redeliver',
      summary: 'Send an event again to an enabled endpoint (admin), outside its account order: 202 with the new delivery',
      tag: 'events',
      auth: 'bearer',
      idempotent: { success_status: 202 },
      params: uuidParams,
      body: Joi.object({ endpoint_id: uuidSchema.required() }),
      responses: {
        202: 'The delivery, pending',
        400: 'Invalid request',
        ...adminResponses,
        404: 'No such event or endpoint',
        409: 'The endpoint is disabled',
        422: 'Idempotency-Key reused',
        503: 'Retry with the same key',
      },
      response_schema: deliveryViewSchema,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        redeliverEvent(ctx.state.deps, actor, { event_id: params.id, endpoint_id: body.endpoint_id }, idempotency),
    }),
    defineRoute({
      operation_id: 'createWebhookEndpoint',
      method: 'post',
      path: '/v1/webhook-endpoints',
      summary: 'Register a webhook endpoint (admin): 201 with its signing secret, shown in this answer only',
      tag: 'webhooks',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({ url: url.required(), enabled_events: enabled_events.required(), description }),
      responses: {
        201: 'The endpoint with its secret',
        400: 'Invalid request',
        ...adminResponses,
        409: 'WEBHOOK_ENDPOINTS_MAX endpoints exist',
        422: 'Idempotency-Key reused',
        503: 'Retry with the same key',
      },
      response_schema: createdEndpointSchema,
      present: revealingSecrets,
      handler: async (ctx, { actor, body, idempotency }) => createEndpoint(ctx.state.deps, actor, body, idempotency),
    }),
    defineRoute({
      operation_id: 'listWebhookEndpoints',
      method: 'get',
      path: '/v1/webhook-endpoints',
      summary: 'Webhook endpoints newest first, with their health, never their secrets (admin)',
      tag: 'webhooks',
      auth: 'bearer',
      query: page({}),
      responses: { 200: 'A page of endpoints', 400: 'Invalid query', ...adminResponses },
      response_schema: pageSchema('WebhookEndpointPage', endpointViewSchema),
      handler: async (ctx, { actor, query }) => ({ status: 200, body: await listEndpoints(ctx.state.deps, actor, query) }),
    }),
    defineRoute({
      operation_id: 'getWebhookEndpoint',
      method: 'get',
      path: '/v1/webhook-endpoints/{id}',
      summary: 'A webhook endpoint with its health (admin)',
      tag: 'webhooks',
      auth: 'bearer',
      params: endpointParams,
      responses: { 200: 'The endpoint', 400: 'Malformed id', ...adminResponses, 404: 'Not found' },
      response_schema: endpointViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getEndpoint(ctx.state.deps, actor, params.id) }),
    }),
    defineRoute({
      operation_id: 'updateWebhookEndpoint',
      method: 'patch',
      path: '/v1/webhook-endpoints/{id}',
      summary: 'Change the URL, the events, the description, or enable or disable an endpoint (admin)',
      tag: 'webhooks',
      auth: 'bearer',
      params: endpointParams,
      body: Joi.object({
        url,
        enabled_events,
        description: description.allow(null),
        status: Joi.string().valid('enabled', 'disabled'),
      }).min(1),
      responses: { 200: 'The endpoint', 400: 'Invalid request', ...adminResponses, 404: 'Not found', 503: 'Retry' },
      response_schema: endpointViewSchema,
      handler: async (ctx, { actor, params, body }) => ({
        status: 200,
        body: await updateEndpoint(ctx.state.deps, actor, params.id, body),
      }),
    }),
    defineRoute({
      operation_id: 'deleteWebhookEndpoint',
      method: 'delete',
      path: '/v1/webhook-endpoints/{id}',
      summary: 'Delete an endpoint (admin): nothing more is delivered to it, pending retries included',
      tag: 'webhooks',
      auth: 'bearer',
      params: endpointParams,
      responses: { 200: 'The endpoint, deleted', 400: 'Malformed id', ...adminResponses, 404: 'Not found', 503: 'Retry' },
      response_schema: endpointViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await deleteEndpoint(ctx.state.deps, actor, params.id) }),
    }),
    defineRoute({
      operation_id: 'rotateWebhookSecret',
      method: 'post',
      path: '/v1/webhook-endpoints/{id}/rotate-secret',
      summary:
        'A new signing secret (admin), shown in this answer only; the previous ones keep signing alongside it for ' +
        `overlap_seconds (default WEBHOOK_SECRET_OVERLAP_SECONDS, ${secret_overlap_seconds})`,
      tag: 'webhooks',
      auth: 'bearer',
      idempotent: { success_status: 200 },
      params: endpointParams,
      body: Joi.object({
        overlap_seconds: Joi.number()
          .integer()
          .strict()
          .min(0)
          .max(7 * 24 * 3600),
      }),
      responses: {
        200: 'The new secret and every secret signing now',
        400: 'Invalid request',
        ...adminResponses,
        404: 'Not found',
        409: 'WEBHOOK_SECRETS_ACTIVE_MAX secrets sign already',
        422: 'Idempotency-Key reused',
        503: 'Retry with the same key',
      },
      response_schema: rotatedSecretSchema,
      present: revealingSecrets,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        rotateSecret(ctx.state.deps, actor, { endpoint_id: params.id, ...body }, idempotency),
    }),
    defineRoute({
      operation_id: 'listWebhookDeliveries',
      method: 'get',
      path: '/v1/webhook-endpoints/{id}/deliveries',
      summary: "An endpoint's deliveries newest first, each with its latest attempts: status code, latency, error (admin)",
      tag: 'webhooks',
      auth: 'bearer',
      params: endpointParams,
      query: page({ status: Joi.string().valid('pending', 'delivered', 'failed'), event_id: uuidSchema }),
      responses: { 200: 'A page of deliveries', 400: 'Invalid query', ...adminResponses, 404: 'Not found' },
      response_schema: pageSchema('WebhookDeliveryPage', deliveryViewSchema),
      handler: async (ctx, { actor, params, query }) => ({
        status: 200,
        body: await listDeliveries(ctx.state.deps, actor, params.id, query),
      }),
    }),
  ];
}
