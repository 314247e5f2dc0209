import Joi from 'joi';
import type { TableSpec } from '../batch/table-writer.js';
import { timestamp } from '../db/sql.js';
import { EVENT_TYPES, ALL_EVENTS } from '../events/event-types.js';
import { idSchema, timestampSchema, unionMembers, viewPart, viewSchema, type ViewKeys } from '../platform/view-schema.js';
import type { SigningSecret } from './endpoint-secrets.js';

export type EndpointStatus = 'enabled' | 'disabled' | 'deleted';

/**
 * A webhook endpoint: operator configuration, trusted. Every batch reads the table (it is small,
 * and GLOBAL on CockroachDB: local reads everywhere) to fan an event out to the endpoints enabled
 * at its commit; only operations of the write path change it, so an endpoint created, changed or
 * disabled is seen by every batch after it and by none before it.
 */
export interface EndpointRecord {
  id: string;
  url: string;
  description: string | null;
  /** Event types, or "*" for all of them. */
  enabled_events: string[];
  status: EndpointStatus;
  secrets: SigningSecret[];
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
}

export const WEBHOOK_ENDPOINTS: TableSpec<EndpointRecord> = {
  table: 'webhook_endpoints',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    url: 'text',
    description: 'text',
    enabled_events: 'json_document',
    status: 'text',
    secrets: 'json_document',
    disabled_reason: 'text',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  key: ['id'],
  mutable: ['url', 'description', 'enabled_events', 'status', 'secrets', 'disabled_reason', 'updated_at'],
  guarded: 'updated_at',
  guards: ['updated_at'],
};

const optionalTimestamp = (value: unknown) => (value === null || value === undefined ? null : timestamp(value as string));

export function toEndpointRecord(row: Record<string, unknown>): EndpointRecord {
  const secrets = row['secrets'] as Array<{ salt: string; created_at: string; expires_at: string | null }>;
  return {
    id: row['id'] as string,
    url: row['url'] as string,
    description: (row['description'] as string | null) ?? null,
    enabled_events: row['enabled_events'] as string[],
    status: row['status'] as EndpointStatus,
    secrets: secrets.map((secret) => ({
      salt: secret.salt,
      created_at: timestamp(secret.created_at),
      expires_at: optionalTimestamp(secret.expires_at),
    })),
    disabled_reason: (row['disabled_reason'] as string | null) ?? null,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
  };
}

/** How deliveries to an endpoint have been going (src/webhooks/endpoint-health.ts); never part of a batch. */
export interface EndpointHealth {
  /** The first failed attempt since the last success; null while it succeeds. */
  failing_since: string | null;
  /** What that first failure was. */
  failure_reason: string | null;
}

/** An endpoint as the API shows it: never a secret, only when each one was made and until when it signs. */
export function endpointView(endpoint: EndpointRecord, health: EndpointHealth | undefined) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    enabled_events: endpoint.enabled_events,
    status: endpoint.status,
    disabled_reason: endpoint.disabled_reason,
    signing_secrets: endpoint.secrets.map((secret) => ({ created_at: secret.created_at, expires_at: secret.expires_at })),
    failing_since: health?.failing_since ?? null,
    failure_reason: health?.failure_reason ?? null,
    created_at: endpoint.created_at,
    updated_at: endpoint.updated_at,
  };
}
export type EndpointView = ReturnType<typeof endpointView>;

const signingSecretsSchema = Joi.array()
  .items(viewPart({ created_at: timestampSchema, expires_at: timestampSchema.allow(null).description('Null for the current secret') }))
  .description('When each secret signing now was made and until when it signs (never the secrets)');

const endpointKeys = {
  id: idSchema,
  url: Joi.string(),
  description: Joi.string().allow(null),
  enabled_events: Joi.array().items(Joi.string().valid(ALL_EVENTS, ...EVENT_TYPES)),
  status: Joi.string().valid(...unionMembers<EndpointStatus>({ enabled: true, disabled: true, deleted: true })),
  disabled_reason: Joi.string().allow(null),
  signing_secrets: signingSecretsSchema,
  failing_since: timestampSchema.allow(null).description('The first failed attempt since the last success'),
  failure_reason: Joi.string().allow(null),
  created_at: timestampSchema,
  updated_at: timestampSchema,
} satisfies ViewKeys<EndpointView>;

export const endpointViewSchema = viewSchema('WebhookEndpoint', endpointKeys);

/** The answer of the creation: the endpoint and its signing secret, shown only there. */
export const createdEndpointSchema = viewSchema('WebhookEndpointWithSecret', { ...endpointKeys, secret: Joi.string() });

/** The answer of a rotation: the new secret, shown only there, and every secret signing now. */
export const rotatedSecretSchema = viewSchema('RotatedSigningSecret', {
  id: idSchema,
  secret: Joi.string(),
  signing_secrets: signingSecretsSchema,
});
