import { COMPLIANCE_ACTIONS, REVIEW_FLAGS } from '../compliance/compliance-records.js';
import { IDEMPOTENCY_KEYS } from '../idempotency/idempotency-record.js';
import { ACCOUNTS, ENTRIES, HOLDS, TRANSACTIONS, WALLETS } from '../ledger/ledger-records.js';
import { ENTITLEMENTS, ORDER_LINES, ORDER_REFUNDS, ORDERS } from '../shop/orders/order-records.js';
import { JOBS, PURCHASE_ATTEMPTS, PURCHASE_REQUESTS } from '../sellers/purchases/purchase-records.js';
import { PSP_EVENTS, TOPUPS } from '../shop/topups/topup-records.js';
import { EVENTS } from '../events/event-records.js';
import { WEBHOOK_DELIVERIES } from '../webhooks/delivery-records.js';
import { WEBHOOK_ENDPOINTS } from '../webhooks/endpoint-records.js';
import { PAYOUT_EVENTS, WITHDRAWALS } from '../withdrawals/withdrawal-records.js';
import type { TableSpec } from './table-writer.js';

/**
 * Every table a batch writes, in the order its statements run: parents before the rows that
 * reference them (wallets reference accounts), the idempotency records last.
 */
export const WRITE_ORDER: Array<TableSpec<object>> = [
  ACCOUNTS,
  WALLETS,
  TRANSACTIONS,
  ENTRIES,
  HOLDS,
  ORDERS,
  ORDER_LINES,
  ENTITLEMENTS,
  ORDER_REFUNDS,
  PURCHASE_REQUESTS,
  PURCHASE_ATTEMPTS,
  JOBS,
  TOPUPS,
  PSP_EVENTS,
  WEBHOOK_ENDPOINTS,
  EVENTS,
  WEBHOOK_DELIVERIES,
  WITHDRAWALS,
  PAYOUT_EVENTS,
  REVIEW_FLAGS,
  COMPLIANCE_ACTIONS,
  IDEMPOTENCY_KEYS,
] as unknown as Array<TableSpec<object>>;
