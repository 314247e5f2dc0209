import type { TableSpec } from '../batch/table-writer.js';

/** A request's stored answer under its caller's Idempotency-Key: the exact status and body bytes sent the first time. */
export interface IdempotencyRecord {
  caller: string;
  key: string;
  request_fingerprint: string;
  status_code: number;
  response_text: string;
  region: string;
  created_at: string;
  expires_at: string;
}

export const IDEMPOTENCY_KEYS: TableSpec<IdempotencyRecord> = {
  table: 'idempotency_keys',
  keyOf: (row) => `${row.caller}\n${row.key}`,
  columns: {
    caller: 'text',
    key: 'text',
    request_fingerprint: 'text',
    status_code: 'int4',
    response_text: 'text',
    region: 'region',
    created_at: 'timestamptz',
    expires_at: 'timestamptz',
  },
  key: ['caller', 'key'],
};

/** The unique constraint a concurrent twin's committed record violates. */
export const IDEMPOTENCY_KEYS_PRIMARY_KEY = 'idempotency_keys_pkey';
