import Joi from 'joi';
import type { TableSpec } from '../batch/table-writer.js';
import { int8, timestamp } from '../db/sql.js';
import { idSchema, timestampSchema, viewSchema, type ViewKeys } from '../platform/view-schema.js';
import { EVENT_TYPES, type EventType } from './event-types.js';

/** One row of the outbox: written by the transaction that made the change it describes, never changed. */
export interface EventRecord {
  id: string;
  type: EventType;
  /** The account the change belongs to; null for events of the whole system. */
  account_id: string | null;
  /**
   * The account's history sequence number taken by the event in its transaction: increasing in
   * commit order per account (not contiguous: entries, orders and entitlements take numbers too).
   */
  account_seq: number | null;
  api_version: string;
  /**
   * `data` as the JSON text it was serialized to once, in its batch: the API and every webhook
   * send it as is (a JSONB column would reorder its keys between deliveries and reads).
   */
  data_json: string;
  region: string;
  created_at: string;
}

export const EVENTS: TableSpec<EventRecord> = {
  table: 'events',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    type: 'text',
    account_id: 'text',
    account_seq: 'int8',
    api_version: 'text',
    data_json: 'text',
    region: 'region',
    created_at: 'timestamptz',
  },
  key: ['id'],
};

export function toEventRecord(row: Record<string, unknown>): EventRecord {
  const account_seq = row['account_seq'] as string | null;
  return {
    id: row['id'] as string,
    type: row['type'] as EventType,
    account_id: (row['account_id'] as string | null) ?? null,
    account_seq: account_seq === null ? null : int8(account_seq),
    api_version: row['api_version'] as string,
    data_json: row['data_json'] as string,
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
  };
}

/** The envelope around `data`, in the order both the API and webhook bodies show it. */
function envelope(event: EventRecord) {
  return {
    id: event.id,
    type: event.type,
    api_version: event.api_version,
    created_at: event.created_at,
    account_id: event.account_id,
    account_sequence: event.account_seq,
  };
}

export function eventView(event: EventRecord, data: unknown = JSON.parse(event.data_json)) {
  return { ...envelope(event), data };
}
export type EventView = ReturnType<typeof eventView>;

export const eventViewSchema = viewSchema('Event', {
  id: idSchema,
  type: Joi.string().valid(...EVENT_TYPES),
  api_version: Joi.string().description('The version of the envelope and of the views in data'),
  created_at: timestampSchema.description("Its transaction's start"),
  account_id: Joi.string().allow(null).description('The account the change belongs to; null for events of the whole system'),
  account_sequence: Joi.number()
    .integer()
    .allow(null)
    .description("The account's history number taken by the event: increasing in commit order per account, not contiguous"),
  data: Joi.object()
    .unknown(true)
    .description('The object as its own GET shows it after the change (for transaction.posted, the ledger transaction)'),
} satisfies ViewKeys<EventView>);

/** The exact bytes a webhook delivers (and signs): the event as the API shows it, `data` spliced in as stored. */
export function eventBody(event: EventRecord): string {
  return `${JSON.stringify(envelope(event)).slice(0, -1)},"data":${event.data_json}}`;
}
