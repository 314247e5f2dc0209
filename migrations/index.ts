import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122000100_foundation } from './Migration20261122000100_foundation.js';
import { Migration20261122000200_ledger } from './Migration20261122000200_ledger.js';
import { Migration20261122000300_shop } from './Migration20261122000300_shop.js';
import { Migration20261122000400_sellers } from './Migration20261122000400_sellers.js';
import { Migration20261122000500_purchase_review } from './Migration20261122000500_purchase_review.js';
import { Migration20261201000100_refund_policy_override } from './Migration20261201000100_refund_policy_override.js';
import { Migration20261201000100_psp_event_log } from './Migration20261201000100_psp_event_log.js';
import { Migration20261201000200_psp_event_log_backfill } from './Migration20261201000200_psp_event_log_backfill.js';
import { Migration20261201000900_group_commit } from './Migration20261201000900_group_commit.js';
import { Migration20261210000100_monitoring } from './Migration20261210000100_monitoring.js';
import { Migration20261215000100_stripe_topups } from './Migration20261215000100_stripe_topups.js';
import { Migration20261215000200_wallet_complete } from './Migration20261215000200_wallet_complete.js';
import { Migration20261220000100_console_lists } from './Migration20261220000100_console_lists.js';
import { Migration20261220000200_events } from './Migration20261220000200_events.js';
import { Migration20261225000100_pod_slots } from './Migration20261225000100_pod_slots.js';
import { Migration20261226000100_delivery_due_index } from './Migration20261226000100_delivery_due_index.js';
import { Migration20261227000100_lean_ledger_indexes } from './Migration20261227000100_lean_ledger_indexes.js';
import { Migration20261228000100_attempt_order_route } from './Migration20261228000100_attempt_order_route.js';
import { Migration20261228000200_purchase_review_settlement } from './Migration20261228000200_purchase_review_settlement.js';
import { Migration20261228000300_failed_topup_refunds } from './Migration20261228000300_failed_topup_refunds.js';
import { Migration20261228000400_pending_redeliveries } from './Migration20261228000400_pending_redeliveries.js';

/** Every migration in order; listed explicitly so that no file system scan is needed at start-up. */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122000100_foundation', class: Migration20261122000100_foundation },
  { name: 'Migration20261122000200_ledger', class: Migration20261122000200_ledger },
  { name: 'Migration20261122000300_shop', class: Migration20261122000300_shop },
  { name: 'Migration20261122000400_sellers', class: Migration20261122000400_sellers },
  { name: 'Migration20261122000500_purchase_review', class: Migration20261122000500_purchase_review },
  { name: 'Migration20261201000100_refund_policy_override', class: Migration20261201000100_refund_policy_override },
  { name: 'Migration20261201000100_psp_event_log', class: Migration20261201000100_psp_event_log },
  { name: 'Migration20261201000200_psp_event_log_backfill', class: Migration20261201000200_psp_event_log_backfill },
  { name: 'Migration20261201000900_group_commit', class: Migration20261201000900_group_commit },
  { name: 'Migration20261210000100_monitoring', class: Migration20261210000100_monitoring },
  { name: 'Migration20261215000100_stripe_topups', class: Migration20261215000100_stripe_topups },
  { name: 'Migration20261215000200_wallet_complete', class: Migration20261215000200_wallet_complete },
  { name: 'Migration20261220000100_console_lists', class: Migration20261220000100_console_lists },
  { name: 'Migration20261220000200_events', class: Migration20261220000200_events },
  { name: 'Migration20261225000100_pod_slots', class: Migration20261225000100_pod_slots },
  { name: 'Migration20261226000100_delivery_due_index', class: Migration20261226000100_delivery_due_index },
  { name: 'Migration20261227000100_lean_ledger_indexes', class: Migration20261227000100_lean_ledger_indexes },
  { name: 'Migration20261228000100_attempt_order_route', class: Migration20261228000100_attempt_order_route },
  { name: 'Migration20261228000200_purchase_review_settlement', class: Migration20261228000200_purchase_review_settlement },
  { name: 'Migration20261228000300_failed_topup_refunds', class: Migration20261228000300_failed_topup_refunds },
  { name: 'Migration20261228000400_pending_redeliveries', class: Migration20261228000400_pending_redeliveries },
];
