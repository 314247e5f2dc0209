import type { TableSpec } from '../../batch/table-writer.js';
import { int8, timestamp } from '../../db/sql.js';
import type { NewPspEvent, TopupEvent } from './psp-event-repository.js';
import type { Topup } from './topup-repository.js';

/** The top-up columns a batch writes: the state machine's state and its ledger references. */
export const TOPUPS: TableSpec<Topup> = {
  table: 'topups',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    account_id: 'text',
    amount_minor: 'int8',
    currency: 'text',
    status: 'text',
    psp_payment_id: 'text',
    psp_provider: 'text',
    stripe_payment_intent_id: 'text',
    stripe_client_secret: 'text',
    credit_transaction_id: 'uuid',
    reversal_transaction_id: 'uuid',
    reversed_minor: 'int8',
    unrecovered_minor: 'int8',
    reversals: 'jsonb',
    metadata: 'jsonb',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  key: ['id'],
  // reconciliation_required_at is the stuck-top-up worker's: a batch never writes it.
  mutable: [
    'status',
    'psp_payment_id',
    'stripe_payment_intent_id',
    'stripe_client_secret',
    'credit_transaction_id',
    'reversal_transaction_id',
    'reversed_minor',
    'unrecovered_minor',
    'reversals',
    'updated_at',
  ],
  guarded: 'status',
  guards: ['status', 'reversed_minor'],
};

/** A row of the PSP event log as a batch appends it. */
export interface PspEventRecord extends NewPspEvent {
  received_at: string;
}

export const PSP_EVENTS: TableSpec<PspEventRecord> = {
  table: 'psp_events',
  keyOf: (row) => row.id,
  columns: {
    id: 'text',
    type: 'text',
    topup_id: 'uuid',
    payload: 'json_document',
    body_base64: 'text',
    outcome: 'text',
    review_reason: 'text',
    conflicts_with: 'text',
    amount_minor: 'int8',
    currency: 'text',
    region: 'region',
    received_at: 'timestamptz',
  },
  key: ['id'],
};

export function toPspEventRecord(row: Record<string, unknown>): PspEventRecord {
  return {
    id: row['id'] as string,
    type: row['type'] as string,
    topup_id: (row['topup_id'] as string | null) ?? null,
    payload: row['payload'] ?? null,
    body_base64: (row['body_base64'] as string | null) ?? null,
    outcome: row['outcome'] as string,
    review_reason: (row['review_reason'] as string | null) ?? null,
    conflicts_with: (row['conflicts_with'] as string | null) ?? null,
    amount_minor: row['amount_minor'] === null || row['amount_minor'] === undefined ? null : int8(row['amount_minor'] as string),
    currency: (row['currency'] as string | null) ?? null,
    region: row['crdb_region'] as string,
    received_at: timestamp(row['received_at'] as string),
  };
}

/**
 * Every event recorded against the batch's top-ups, as a top-up shows them (topupView): read so
 * that an event about a top-up carries its view after the change. Never written (not in
 * WRITE_ORDER); what the batch records itself is in PSP_EVENTS.
 */
export interface TopupLogEntry extends TopupEvent {
  topup_id: string;
}

export const TOPUP_LOG: TableSpec<TopupLogEntry> = { table: 'psp_events', keyOf: (row) => row.log_id, columns: {}, key: [] };
