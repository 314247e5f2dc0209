import type { AccountDirectory } from '../accounts/account-directory.js';
import type { TokenVerifier } from '../auth/tokens.js';
import type { WritePath } from '../batch/batcher.js';
import type { Database } from '../db/database.js';
import type { CallerRateLimiter } from '../http/rate-limiter.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { SellerServices } from '../sellers/seller-services.js';
import type { WebhookDispatcher } from '../webhooks/dispatcher.js';
import type { PayoutServices } from '../withdrawals/payout-services.js';
import type { ExportSlots } from '../statements/export-transactions.js';
import type { StripeServices } from '../shop/topups/stripe/stripe-client.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { PodSlot } from './pod-slot.js';
import type { Topology } from './regions.js';

/** Everything a pod's request handlers and use cases need, built once per pod. */
export interface AppDeps {
  config: Config;
  topology: Topology;
  region: string;
  db: Database;
  logger: Logger;
  metrics: Metrics;
  transactions: TransactionRunner;
  /** Every money movement: batched, one serializable transaction per batch (src/batch). */
  writes: WritePath;
  /** This pod's slot in its region: names the system-balance shards its batches write. */
  slot: PodSlot;
  directory: AccountDirectory;
  tokens: TokenVerifier;
  rate_limiter: CallerRateLimiter;
  /** The seller aggregator's per-pod state: call slots, quote coalescing, the purchase job runner. */
  sellers: SellerServices;
  /** Delivers the webhooks of the events this pod's batches commit, and polls for the rest (src/webhooks). */
  webhooks: WebhookDispatcher;
  /** The payout jobs of withdrawals. */
  payouts: PayoutServices;
  /** Compliance exports streaming in this pod. */
  exports: ExportSlots;
  /** The way to Stripe, when top-ups are paid through it (PSP_PROVIDER=stripe). */
  stripe: StripeServices | undefined;
}
