import { IDEMPOTENCY_KEYS } from '../idempotency/idempotency-record.js';
import { ACCOUNTS, ENTRIES, HOLDS, TRANSACTIONS, WALLETS } from '../ledger/ledger-records.js';
import { ENTITLEMENTS, ORDER_LINES, ORDER_REFUNDS, ORDERS } from '../shop/orders/order-records.js';
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
  IDEMPOTENCY_KEYS,
] as unknown as Array<TableSpec<object>>;
