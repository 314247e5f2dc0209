import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { openDatabase, type Database } from './db/database.js';
import { answerWhileStarting } from './http/starting.js';
import { TransactionRunner } from './db/transaction-runner.js';
import { TokenVerifier } from './auth/tokens.js';
import { createApp } from './http/app.js';
import { PROBLEM_CONTENT_TYPE, problemFor } from './http/problem.js';
import { CallerRateLimiter } from './http/rate-limiter.js';
import { AccountDirectory } from './accounts/account-directory.js';
import { AccountQueue } from './batch/account-queue.js';
import { WritePath } from './batch/batcher.js';
import { BatchExecutor } from './batch/executor.js';
import { UnitWriter } from './batch/writes.js';
import { purgeExpiredKeysTask } from './idempotency/purge-expired-keys.js';
import { expireHoldsTask } from './ledger/expire-holds.js';
import { cancelExpiredOrdersTask } from './shop/orders/cancel-expired-orders.js';
import { flagStuckTopupsTask } from './shop/topups/flag-stuck-topups.js';
import { purgeEventsTask } from './events/purge-events.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { refreshTopupGauges } from './shop/topups/topup-gauges.js';
import { refreshSellerGauges } from './sellers/seller-gauges.js';
import { createSellerServices, sellerBackgroundTasks } from './sellers/seller-services.js';
import { createPayoutServices } from './withdrawals/payout-services.js';
import { ExportSlots } from './statements/export-transactions.js';
import { flagUnansweredWithdrawalsTask } from './withdrawals/flag-unanswered-withdrawals.js';
import { createStripeServices } from './shop/topups/stripe/stripe-client.js';
import { reconciliationTask, refreshReconciliationGauges } from './reconciliation/run-reconciliation.js';
import { checkReadiness } from './db/readiness.js';
import type { Config } from './platform/config.js';
import type { AppDeps } from './platform/deps.js';
import { fleetGaugesTask } from './platform/fleet-gauges.js';
import { createLogger, type Logger } from './platform/logger.js';
import { createMetrics } from './platform/metrics.js';
import type { Topology } from './platform/regions.js';
import { PodSlot, POD_SLOTS_MAX } from './platform/pod-slot.js';
import { WorkerLoop, type PeriodicTask } from './platform/worker.js';

const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface PodOptions {
  config: Config;
  topology: Topology;
  region: string;
  database_url: string;
  host: string;
  port: number;
  /** Default Node process metrics belong to a process that hosts exactly one pod. */
  process_metrics: boolean;
  run_workers: boolean;
  logger?: Logger;
}

export interface Pod {
  deps: AppDeps;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

/** Background tasks every pod runs; each is safe to run in every pod at once. */
function backgroundTasks(deps: AppDeps): PeriodicTask[] {
  return [
    purgeExpiredKeysTask(deps),
    expireHoldsTask(deps),
    cancelExpiredOrdersTask(deps),
    flagStuckTopupsTask(deps),
    ...sellerBackgroundTasks(deps),
    deps.webhooks.task(),
    purgeEventsTask(deps),
    deps.payouts.jobs.task(),
    flagUnansweredWithdrawalsTask(deps),
    reconciliationTask(deps),
    fleetGaugesTask(deps, [refreshTopupGauges, refreshSellerGauges, refreshReconciliationGauges]),
  ];
}

/** System-balance shards a pod may own (one per batcher: a region at most). */
const SHARDS_PER_POD_MAX = 1024;

function podLogger(options: PodOptions): Logger {
  return options.logger ?? createLogger({ level: options.config.log_level, region: options.region });
}

/** The dependencies of a tool that runs use cases in its own process (reconciliation CLI, bench set-up, tests): no server, no workers. */
export function toolDeps(options: Pick<PodOptions, 'config' | 'topology' | 'region' | 'database_url' | 'logger'>, db: Database): AppDeps {
  return buildDeps({ ...options, host: options.config.host, port: 0, process_metrics: false, run_workers: false }, db);
}

export function buildDeps(options: PodOptions, db: Database): AppDeps {
  const { config, region } = options;
  const logger = podLogger(options);
  let writes: WritePath | undefined;
  const metrics = createMetrics({
    region,
    process_metrics: options.process_metrics,
    pools: { transactions: db.tx_pool },
    write_queue_depth: () => writes?.depth ?? 0,
    readiness: async () => (await checkReadiness(transactions, config.ready_probe_timeout_ms)).status === 'ready',
    reconciliation_interval_seconds: config.reconciliation_interval_seconds,
  });
  const regionIndexOf = (name: string) => options.topology.regions.findIndex((candidate) => candidate.name === name);
  const region_index = regionIndexOf(region);
  const policy = {
    attempts_max: config.limits.transaction_attempts_max,
    backoff_base_ms: config.transaction_backoff_base_ms,
    backoff_max_ms: config.transaction_backoff_max_ms,
  };
  const transactions = new TransactionRunner({ pool: db.tx_pool, statements: db.statements, metrics, policy });
  // The queue is PostgreSQL's advisory locks: CockroachDB's session-level ones are stubs that lock nothing.
  const queue_on = config.batch_account_queue !== 'off' && db.dialect === 'postgres';
  if (config.batch_account_queue === 'on' && !queue_on) logger.warn('BATCH_ACCOUNT_QUEUE=on is ignored: CockroachDB has no advisory locks');
  const queue = queue_on
    ? new AccountQueue({
        hot_ms: config.hot_account_ttl_ms,
        entries_max: config.account_directory_entries_max,
        idle_timeout_ms: config.db_idle_in_transaction_timeout_ms,
      })
    : undefined;
  const webhooks = new WebhookDispatcher({ transactions, config, logger, metrics, region });
  const executor = new BatchExecutor({
    pool: db.tx_pool,
    dialect: db.dialect,
    onUnreachable: (error) => writes?.databaseUnreachable(error),
    queue,
    writer: new UnitWriter(db.dialect, config.webhooks.events_settle_window_ms),
    observer: webhooks,
    policy,
    retention_hours: config.idempotency_retention_hours,
    metrics,
    logger,
  });
  // Each batcher of each pod owns one shard of every system account (never a hot row), named by
  // the pod's slot in its region.
  const slot = new PodSlot({ transactions, region, fixed: config.pod_index, lease_ms: config.pod_slot_lease_ms, logger, metrics });
  const shardOf = (batch_region: string) => (region_index * POD_SLOTS_MAX + slot.index) * SHARDS_PER_POD_MAX + regionIndexOf(batch_region);
  // On CockroachDB a batch keeps to one home region, so that its transaction commits where its rows
  // live; on one PostgreSQL regions are labels, and a batcher per region would only make batches
  // smaller (a third of the throughput on three regions, BENCHMARKS.md).
  const by_home_region = config.batch_by_home_region === 'on' || (config.batch_by_home_region === 'auto' && db.dialect === 'cockroach');
  const batchRegionOf = by_home_region ? (home_region: string) => home_region : () => region;
  writes = new WritePath(executor, config.batch, shardOf, config.database_unreachable_pause_ms, batchRegionOf);
  const directory = new AccountDirectory(transactions, config.account_directory_entries_max, by_home_region);
  const tokens = new TokenVerifier({
    secret: config.auth_jwt_secret,
    issuer: config.auth_jwt_issuer,
    audience: config.auth_jwt_audience,
    lifetime_max_seconds: config.auth_jwt_lifetime_max_seconds,
  });
  const rate_limiter = new CallerRateLimiter(config.rate_limit_per_second, config.rate_limit_burst);
  const core = {
    webhooks,
    config,
    topology: options.topology,
    region,
    db,
    logger,
    metrics,
    transactions,
    writes,
    slot,
    directory,
    tokens,
    rate_limiter,
    exports: new ExportSlots(config.wallet.exports_in_flight_max),
    stripe: config.psp_provider === 'stripe' ? createStripeServices(config.stripe) : undefined,
  };
  const sellers = createSellerServices(core);
  return { ...core, sellers, payouts: createPayoutServices(core, sellers.owner) };
}

/**
 * Starts a pod: it listens at once, answering as a starting pod does (answerWhileStarting) while
 * its database does not answer (waiting with backoff), then serves. From then on the pod never
 * exits for want of the database: requests answer 503 while it is away, and the pools reconnect
 * when it is back.
 */
export async function startPod(options: PodOptions): Promise<Pod> {
  const logger = podLogger(options);
  const server = createHttpServer(options, logger);
  const starting = answerWhileStarting(options.region);
  server.on('request', starting);
  server.listen(options.port, options.host);
  await once(server, 'listening');
  let db: Database | undefined;
  let deps: AppDeps;
  let app: RequestListener;
  try {
    db = await openDatabase(options.config, {
      url: options.database_url,
      application_name: `creditshop:${options.region}`,
      pool_max: options.config.db_pool_max,
      logger,
    });
    deps = buildDeps({ ...options, logger }, db);
    await deps.slot.start();
    app = createApp(deps).callback();
  } catch (error) {
    server.close();
    await db?.close();
    throw error;
  }
  server.removeListener('request', starting);
  server.on('request', app);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const workers = new WorkerLoop(deps.logger, options.config.worker_backoff_max_ms);
  if (options.run_workers) {
    deps.webhooks.start(deps);
    workers.start(backgroundTasks(deps));
  }
  return {
    deps,
    server,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      const grace_ms = options.config.shutdown_grace_ms;
      // Out of rotation at once, whatever background run is in flight (a reconciliation may take
      // a while); jobs already calling a seller or the payout provider get the grace to record
      // what they learn, and beyond it their leases run out for another pod.
      await Promise.all([
        closeServer(server, grace_ms),
        workers.stop(),
        within(grace_ms, Promise.all([deps.sellers.jobs.idle(), deps.payouts.jobs.idle()])),
      ]);
      await deps.writes.idle();
      await deps.webhooks.stop();
      await deps.slot.stop();
      await db.close();
    },
  };
}

/** The pod's HTTP server with its limits and its answers to what never reaches the app; requests are handled by whoever listens. */
function createHttpServer(options: PodOptions, logger: Logger): Server {
  // Without Host the request still reaches the app, which answers it as every bad request is
  // answered (Node's own answer is an empty 400).
  const server = createServer({ requireHostHeader: false });
  server.requestTimeout = options.config.http_request_timeout_ms;
  // Longer than clients and load balancers keep idle connections, so they close them first and
  // never reuse a socket the pod is closing.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = Math.min(options.config.http_request_timeout_ms, 60_000);
  // An error of the listening socket itself (accept failing for want of file descriptors): logged;
  // without a listener Node would end the process.
  server.on('error', (error) => logger.error({ err: error }, 'the HTTP server reported an error'));
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerMalformedRequest(error, socket, options.region));
  // What Node answers by itself otherwise, with an empty body or none: problem+json like the rest.
  server.on('connect', (_request, socket: Duplex) => answerOnSocket(socket, 405, 'CONNECT is not served here', options.region));
  server.on('checkExpectation', (_request, response) => {
    const body = JSON.stringify(problemFor('validation_error', 'this Expect is not supported (only 100-continue)', {}, 417));
    response.writeHead(417, { 'Content-Type': PROBLEM_CONTENT_TYPE, 'X-Region': options.region, Connection: 'close' });
    response.end(body);
  });
  return server;
}

/**
 * Requests Node rejects before Koa sees them (oversized headers, a malformed request line) still
 * get problem+json and X-Region, like every other error.
 */
function answerMalformedRequest(error: NodeJS.ErrnoException, socket: Duplex, region: string): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  answerOnSocket(socket, status, status === 431 ? 'request headers are too large' : 'the request is not valid HTTP', region);
}

/** A problem+json answer written straight to a socket that no request object will answer, then closed. */
function answerOnSocket(socket: Duplex, status: number, detail: string, region: string): void {
  const body = JSON.stringify(problemFor('validation_error', detail, {}, status));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Region: ${region}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Waits for `work`, at most `limit_ms`. */
async function within(limit_ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, limit_ms)))]);
  clearTimeout(timer);
}

/** Stops accepting connections, lets in-flight requests finish, then cuts what is left. */
async function closeServer(server: Server, grace_ms: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), grace_ms);
  await closed;
  clearTimeout(timer);
}
