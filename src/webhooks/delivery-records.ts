import Joi from 'joi';
import type { TableSpec } from '../batch/table-writer.js';
import { timestamp } from '../db/sql.js';
import { idSchema, timestampSchema, unionMembers, viewPart, viewSchema, type ViewKeys } from '../platform/view-schema.js';

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/**
 * The durable state of one event's delivery to one endpoint, created in the transaction that
 * commits the event (fan-out at write time): a delivery exists if and only if its event
 * committed, whatever order commits happen in, so no cursor is needed to find work and none can
 * skip a late commit. Any pod delivers it under a lease.
 */
export interface DeliveryRecord {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  account_id: string | null;
  /**
   * The event's place in its account's commit order: a delivery waits until every earlier one of
   * the same endpoint and account is delivered or given up. Null outside any order (events
   * without an account, redeliveries asked for by an operator).
   */
  account_seq: number | null;
  /** Asked for by an operator (POST /v1/events/{id}/redeliver). */
  manual: boolean;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: string;
  /** Whoever holds the lease: a token per claim; every write of the holder checks it. */
  lease_token: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  event_created_at: string;
  region: string;
  created_at: string;
}

/** What batches write of a delivery: they only create them (attempts are recorded by the pods delivering). */
export const WEBHOOK_DELIVERIES: TableSpec<DeliveryRecord> = {
  table: 'webhook_deliveries',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    endpoint_id: 'uuid',
    event_id: 'uuid',
    event_type: 'text',
    account_id: 'text',
    account_seq: 'int8',
    manual: 'bool',
    state: 'text',
    attempts: 'int4',
    next_attempt_at: 'timestamptz',
    lease_token: 'text',
    lease_owner: 'text',
    lease_expires_at: 'timestamptz',
    event_created_at: 'timestamptz',
    region: 'region',
    created_at: 'timestamptz',
  },
  key: ['id'],
};

/** One attempt as a delivery remembers it. */
export interface AttemptRecord {
  attempt: number;
  at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

const optionalTimestamp = (value: unknown) => (value === null || value === undefined ? null : timestamp(value as string));

/** A delivery as GET /v1/webhook-endpoints/{id}/deliveries shows it, from its full row. */
export function deliveryView(row: Record<string, unknown>) {
  // The log keeps failed attempts; the successful one (always the last) is in the last_* columns.
  const failed = (row['attempt_log'] as AttemptRecord[] | null) ?? [];
  const log =
    row['state'] === 'delivered'
      ? [
          ...failed,
          {
            attempt: row['attempts'] as number,
            at: row['last_attempt_at'] as string,
            status_code: row['last_status_code'] as number,
            latency_ms: row['last_latency_ms'] as number,
            error: null,
          },
        ]
      : failed;
  return {
    id: row['id'] as string,
    endpoint_id: row['endpoint_id'] as string,
    event_id: row['event_id'] as string,
    event_type: row['event_type'] as string,
    account_id: (row['account_id'] as string | null) ?? null,
    manual: row['manual'] as boolean,
    status: row['state'] as DeliveryState,
    attempts: row['attempts'] as number,
    next_attempt_at: row['state'] === 'pending' ? timestamp(row['next_attempt_at'] as string) : null,
    // The latest attempts, oldest first (WEBHOOK_ATTEMPT_LOG_MAX of them).
    attempt_log: log.map((entry) => ({ ...entry, at: timestamp(entry.at) })),
    delivered_at: optionalTimestamp(row['delivered_at']),
    event_created_at: timestamp(row['event_created_at'] as string),
    created_at: timestamp(row['created_at'] as string),
  };
}
export type DeliveryView = ReturnType<typeof deliveryView>;

export const deliveryViewSchema = viewSchema('WebhookDelivery', {
  id: idSchema,
  endpoint_id: idSchema,
  event_id: idSchema,
  event_type: Joi.string(),
  account_id: Joi.string().allow(null),
  manual: Joi.boolean().description('Asked for by an operator (POST /v1/events/{id}/redeliver)'),
  status: Joi.string().valid(...unionMembers<DeliveryState>({ pending: true, delivered: true, failed: true })),
  attempts: Joi.number().integer(),
  next_attempt_at: timestampSchema.allow(null).description('While pending'),
  attempt_log: Joi.array()
    .items(
      viewPart({
        attempt: Joi.number().integer(),
        at: timestampSchema,
        status_code: Joi.number().integer().allow(null).description('Null when no answer came (timeout, refused connection)'),
        latency_ms: Joi.number().integer(),
        error: Joi.string().allow(null),
      }),
    )
    .description('The latest attempts, oldest first'),
  delivered_at: timestampSchema.allow(null),
  event_created_at: timestampSchema,
  created_at: timestampSchema,
} satisfies ViewKeys<DeliveryView>);

/** A delivery just created by a batch, as an API answer shows it (no attempt yet). */
export function newDeliveryView(delivery: DeliveryRecord): DeliveryView {
  return deliveryView({ ...delivery, attempt_log: [], delivered_at: null, crdb_region: delivery.region });
}
