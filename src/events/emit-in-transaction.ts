import { randomUUID } from 'node:crypto';
import { TableWriter } from '../batch/table-writer.js';
import { int8, timestamp, type SqlTx } from '../db/sql.js';
import { RerunTransaction } from '../db/transaction-runner.js';
import { isSystemAccount } from '../ledger/postings.js';
import type { AppDeps } from '../platform/deps.js';
import { WEBHOOK_DELIVERIES } from '../webhooks/delivery-records.js';
import { toEndpointRecord } from '../webhooks/endpoint-records.js';
import { ENDPOINTS_READ_PARAM, ENDPOINTS_READ_TEXT, fanOut } from '../webhooks/fan-out.js';
import type { NewEvent } from './emit.js';
import { EVENTS, type EventRecord } from './event-records.js';
import { EVENTS_API_VERSION } from './event-types.js';
import { isSettleGuardRefusal, SETTLE_GUARD_TEXT, settleGuardMs } from './settle-guard.js';

/**
 * Events of a change made in a serializable transaction of the transaction runner rather than in
 * a batch (the stuck top-up worker, a fleet task): written in the change's own transaction, with
 * what a batch writes for them (the account's next history number, one delivery per subscribed
 * endpoint) and, last, the settle guard. Call it as the transaction's last statements.
 */
export async function emitEventsIn(tx: SqlTx, deps: Pick<AppDeps, 'db' | 'region' | 'config'>, events: readonly NewEvent[]) {
  if (events.length === 0) return [];
  const now = timestamp((await tx.one<{ now: string }>('SELECT now() AS now')).now);
  const endpoints = (await tx.rows<Record<string, unknown>>(ENDPOINTS_READ_TEXT, [ENDPOINTS_READ_PARAM])).map(toEndpointRecord);
  const records: EventRecord[] = [];
  for (const event of events) {
    const account = await takeAccountSequence(tx, event.account_id);
    records.push({
      id: randomUUID(),
      type: event.type,
      account_id: event.account_id ?? null,
      account_seq: account?.seq ?? null,
      api_version: EVENTS_API_VERSION,
      data_json: JSON.stringify(event.data),
      region: account?.region ?? deps.region,
      created_at: now,
    });
  }
  const deliveries = records.flatMap((record) => fanOut(record, endpoints, now));
  for (const statement of [
    new TableWriter(EVENTS, deps.db.dialect).insert(records),
    new TableWriter(WEBHOOK_DELIVERIES, deps.db.dialect).insert(deliveries),
  ]) {
    if (statement) await tx.execute(statement.text, statement.values as never);
  }
  try {
    await tx.execute(SETTLE_GUARD_TEXT, [`${settleGuardMs(deps.config.webhooks.events_settle_window_ms)} milliseconds`]);
  } catch (error) {
    if (isSettleGuardRefusal(error)) throw new RerunTransaction('the transaction ran too long to commit its events', error);
    throw error;
  }
  return records;
}

async function takeAccountSequence(tx: SqlTx, account_id: string | null | undefined) {
  if (!account_id || isSystemAccount(account_id)) return undefined;
  const row = await tx.maybeOne<{ entry_seq: string; crdb_region: string }>(
    "UPDATE accounts SET entry_seq = entry_seq + 1 WHERE id = ? AND kind <> 'system' RETURNING entry_seq, crdb_region",
    [account_id],
  );
  return row && { seq: int8(row.entry_seq), region: row.crdb_region };
}
