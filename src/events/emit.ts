import { randomUUID } from 'node:crypto';
import type { Unit } from '../batch/unit.js';
import { requireAccount, takeSequence } from '../ledger/posting.js';
import { isSystemAccount } from '../ledger/postings.js';
import { WEBHOOK_DELIVERIES } from '../webhooks/delivery-records.js';
import { WEBHOOK_ENDPOINTS } from '../webhooks/endpoint-records.js';
import { fanOut } from '../webhooks/fan-out.js';
import { EVENTS, type EventRecord } from './event-records.js';
import { EVENTS_API_VERSION, type EventType } from './event-types.js';

export interface NewEvent {
  type: EventType;
  /** The account the change belongs to (a player account of the batch's needs), if any. */
  account_id?: string | null;
  /** The changed object as its own GET shows it after the change (reuse the view function of that GET). */
  data: unknown;
}

/**
 * Writes an event with the batch that makes its change (the outbox: it commits if and only if
 * the change does, and an operation that fails leaves none, its journal undoing this too), and
 * one delivery for each webhook endpoint enabled and subscribed at that commit. An event of a
 * player account takes the account's next history number: the account row is locked by the
 * batch, so these numbers follow commit order per account. Call it where the state changes.
 */
export function emitEvent(unit: Unit, event: NewEvent): EventRecord {
  const account = event.account_id && !isSystemAccount(event.account_id) ? requireAccount(unit, event.account_id) : undefined;
  const record = unit.table(EVENTS).insert({
    id: randomUUID(),
    type: event.type,
    account_id: event.account_id ?? null,
    account_seq: account ? takeSequence(unit, account.id, 1) : null,
    api_version: EVENTS_API_VERSION,
    data_json: JSON.stringify(event.data),
    region: account?.region ?? unit.region,
    created_at: unit.now,
  });
  const deliveries = unit.table(WEBHOOK_DELIVERIES);
  for (const delivery of fanOut(record, unit.table(WEBHOOK_ENDPOINTS).all(), unit.now)) deliveries.insert(delivery);
  return record;
}
