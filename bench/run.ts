import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/platform/config.js';
import { expectStatus, PodClient } from './api.js';
import { BenchCluster, type PodSet } from './cluster.js';
import { CpuMeter } from './cpu.js';
import { startDelayProxy } from './delay-proxy.js';
import { provision } from './fixtures.js';
import { runLoad, runOpenLoop } from './load.js';
import { cpuTable, goals, msPer, resultsTable, type Phase, type ScenarioResult } from './report.js';
import { scenarios, type Counts, type Scenario } from './scenarios.js';
import { applySchemaVariants, isSchemaVariant, SCHEMA_VARIANTS, type SchemaVariant } from './schema-variants.js';
import { runSellerBenchmark } from './sellers.js';
import { runWebhookBenchmark } from './webhooks.js';
import { runExportBenchmark } from './wallet.js';
import { DEVELOPMENT_PAYOUT_SECRET } from '../src/platform/wallet-config.js';
import { startPayoutSimulator, type PayoutSimulator } from '../tools/payout-simulator/payout-simulator.js';

// `npm run bench [-- --duration-s 10 --warmup-s 2 --concurrency 32 --scenarios m,mh,b,d,d1,o,c,k1,k0,w,half,delay,wh,x,s
//                    --accounts 10000 --delay-ms 2 --webhook-outage-s 60 --export-rows 1000000 --cpu-prof <dir>
//                    --schema-variant foreign-keys,default-fillfactor --statements]`
// One fresh embedded PostgreSQL and three pod processes; the baseline and the service scenarios in
// the order given (see BENCHMARKS.md); `half` runs every service scenario measured so far again at
// half its peak rate (open loop); `delay` runs debits through a second set of pods that reach
// PostgreSQL through a TCP proxy adding --delay-ms each way; `wh` runs b's debits with a webhook
// endpoint subscribed to everything, then its receiver down and back (bench/webhooks.ts); `x` is
// the compliance export of --export-rows ledger rows (bench/wallet.ts); `s` is the seller benchmark.
// --statements: the statements PostgreSQL spent most time on over the scenarios (pg_stat_statements).

const CLOSED = ['m', 'mh', 'b', 'd', 'd1', 'o', 'c', 'k1', 'k0', 'w'];
const PHASES = ['half', 'delay', 'wh', 'x', 's'];
const PROVISION_CONCURRENCY = 16;
/** Open loop: requests in flight at most (a start beyond it counts as a failure: the system could not keep up). */
const OPEN_LOOP_IN_FLIGHT_MAX = 512;

interface Options {
  duration_s: number;
  warmup_s: number;
  concurrency: number;
  scenarios: string[];
  accounts: number;
  delay_ms: number;
  webhook_outage_s: number;
  export_rows: number;
  cpu_prof_dir: string | undefined;
  schema_variants: SchemaVariant[];
  statements: boolean;
}

function positive(name: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max) throw new Error(`--${name} must be a number in (0, ${max}], got ${text}`);
  return value;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string', default: '10' },
      'warmup-s': { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '32' },
      scenarios: { type: 'string', default: [...CLOSED, ...PHASES].join(',') },
      accounts: { type: 'string', default: '10000' },
      'delay-ms': { type: 'string', default: '2' },
      'webhook-outage-s': { type: 'string', default: '60' },
      'export-rows': { type: 'string', default: '1000000' },
      'cpu-prof': { type: 'string' },
      'schema-variant': { type: 'string', default: '' },
      statements: { type: 'boolean', default: false },
    },
  });
  const variants = values['schema-variant'].split(',').filter(Boolean);
  const unknown_variants = variants.filter((name) => !isSchemaVariant(name));
  if (unknown_variants.length > 0) {
    throw new Error(`unknown schema variant(s) ${unknown_variants.join(', ')}; choose from ${Object.keys(SCHEMA_VARIANTS).join(', ')}`);
  }
  const selected = values.scenarios.split(',').filter(Boolean);
  const unknown = selected.filter((id) => !CLOSED.includes(id) && !PHASES.includes(id));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; choose from ${[...CLOSED, ...PHASES].join(', ')}`);
  return {
    duration_s: positive('duration-s', values['duration-s'], 600),
    warmup_s: positive('warmup-s', values['warmup-s'], 600),
    concurrency: Math.round(positive('concurrency', values.concurrency, 1000)),
    scenarios: selected,
    accounts: Math.round(positive('accounts', values.accounts, 1_000_000)),
    delay_ms: positive('delay-ms', values['delay-ms'], 1000),
    webhook_outage_s: positive('webhook-outage-s', values['webhook-outage-s'], 600),
    export_rows: Math.round(positive('export-rows', values['export-rows'], 10_000_000)),
    cpu_prof_dir: values['cpu-prof'],
    schema_variants: variants.filter(isSchemaVariant),
    statements: values.statements,
  };
}

/** The pods' counters, summed over pods and labels. */
function podCounts(client: PodClient): () => Promise<Counts> {
  return async () => {
    const totals = await client.counters(['batch_retries_total', 'db_round_trips_total', 'batch_queued_total']);
    return {
      retries: totals.batch_retries_total,
      round_trips: totals.db_round_trips_total,
      queued: totals.batch_queued_total,
      stale_socket_resends: client.stale_socket_resends,
    };
  };
}

function delta(after: Counts, before: Counts): Counts {
  return {
    retries: after.retries - before.retries,
    round_trips: after.round_trips - before.round_trips,
    queued: after.queued - before.queued,
    stale_socket_resends: after.stale_socket_resends - before.stale_socket_resends,
  };
}

interface Bench {
  options: Options;
  meter: CpuMeter;
  results: ScenarioResult[];
}

/** Runs one scenario closed-loop (its clients back to back) or open-loop (at `rate_per_s`), measuring CPU and counters. */
async function measure(bench: Bench, scenario: Scenario, phase: Phase, rate_per_s?: number): Promise<ScenarioResult> {
  const { options, meter } = bench;
  const counts_before = await scenario.counts();
  const cpu_before = await meter.sample();
  const window = { warmup_ms: options.warmup_s * 1000, duration_ms: options.duration_s * 1000, operation: scenario.operation };
  const stats =
    rate_per_s === undefined
      ? await runLoad({ ...window, concurrency: scenario.concurrency })
      : await runOpenLoop({ ...window, rate_per_s, in_flight_max: OPEN_LOOP_IN_FLIGHT_MAX });
  const cpu = CpuMeter.between(cpu_before, await meter.sample());
  const counts = delta(await scenario.counts(), counts_before);
  const load = rate_per_s === undefined ? `${scenario.concurrency} clients` : `${rate_per_s.toFixed(0)}/s open loop`;
  const { id, kind, title } = scenario;
  const result: ScenarioResult = { id, phase, kind, title, load, stats, cpu, counts };
  console.log(
    `  ${`${id} ${phase}`.padEnd(12)} ${stats.ops_per_s.toFixed(0).padStart(6)} ops/s  p50 ${stats.latency_p50_ms.toFixed(1)} ms  ` +
      `p99 ${stats.latency_p99_ms.toFixed(1)} ms  failed ${stats.failed}/${stats.requests}`,
  );
  bench.results.push(result);
  return result;
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started_ms = performance.now();
  const result = await work();
  console.log(`${what}: ${((performance.now() - started_ms) / 1000).toFixed(1)} s`);
  return result;
}

async function reconcile(client: PodClient): Promise<boolean> {
  const response = await client.post('/v1/admin/reconcile', {});
  expectStatus(response, 200, 'reconcile');
  const report = JSON.parse(response.text) as { ok: boolean; mismatches: unknown[] };
  console.log(
    report.ok ? '\nreconciliation: clean' : `\nreconciliation: NOT clean\n${JSON.stringify(report.mismatches.slice(0, 20), null, 2)}`,
  );
  return report.ok;
}

/** The same debits through pods that reach PostgreSQL through a delaying proxy: latency and throughput sensitivity. */
async function delayed(
  bench: Bench,
  cluster: BenchCluster,
  context: { baseline_pool: pg.Pool; fixtures: Parameters<typeof scenarios>[0]['fixtures'] },
) {
  const target = new URL(cluster.database_url);
  const proxy = await startDelayProxy({ host: target.hostname, port: Number(target.port) }, bench.options.delay_ms);
  const through = new URL(cluster.database_url);
  through.port = String(proxy.port);
  let pods: PodSet | undefined;
  let client: PodClient | undefined;
  try {
    pods = await timed(`3 more pods, reaching PostgreSQL through a proxy adding ${bench.options.delay_ms} ms each way`, () =>
      cluster.startPods(through.toString()),
    );
    client = await PodClient.create(pods.urls, bench.options.concurrency);
    const meter = new CpuMeter(await cluster.postmaster_pid(), () => pods!.pids);
    const catalog = scenarios({ client, concurrency: bench.options.concurrency, ...context }, podCounts(client));
    const single: Scenario = { ...catalog['b']!, id: 'b1', title: 'HTTP debits, random wallets, 1 client', concurrency: 1 };
    for (const scenario of [single, catalog['b']!, catalog['d']!]) await measure({ ...bench, meter }, scenario, 'delayed');
  } finally {
    client?.close();
    await pods?.stop();
    await proxy.close();
  }
}

/** Scenario w after the closed-loop scenarios, against b measured before it in the same run. */
async function webhookScenario(bench: Bench, pods: PodSet, pool: pg.Pool, debits: Scenario): Promise<string> {
  const { options } = bench;
  const b = bench.results.find((result) => result.id === 'b' && result.phase === 'peak');
  const result = await timed('\nwebhook benchmark (scenario wh)', () =>
    runWebhookBenchmark({
      debit: debits.operation,
      pod_urls: pods.urls,
      pool,
      concurrency: options.concurrency,
      warmup_s: options.warmup_s,
      duration_s: options.duration_s,
      outage_s: options.webhook_outage_s,
      baseline: b && { ops_per_s: b.stats.ops_per_s, system_ms_per_request: msPer(b, ['postgres', 'pods', 'load_generator']) },
      meter: bench.meter,
      log: (line) => console.log(`  ${line}`),
    }),
  );
  return result.text;
}

async function benchmark(cluster: BenchCluster, options: Options): Promise<boolean> {
  // The pods' payout provider (scenario w): started first, so that the pods are forked knowing its URL.
  const payouts = await startPayoutSimulator({ callback_urls: [], secret: DEVELOPMENT_PAYOUT_SECRET });
  process.env['PAYOUT_PROVIDER_URL'] = payouts.url;
  try {
    return await benchmarkWith(cluster, options, payouts);
  } finally {
    await payouts.close();
  }
}

/** The statements PostgreSQL spent most time on since the set-up (--statements). */
async function topStatements(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{
    calls: string;
    total_ms: string;
    mean_ms: string;
    plans: string;
    plan_ms: string;
    rows: string;
    query: string;
  }>(
    `SELECT calls, round(total_exec_time) AS total_ms, round(CAST(mean_exec_time AS numeric), 2) AS mean_ms,
       plans, round(total_plan_time) AS plan_ms, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
     FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 20`,
  );
  const lines = rows.map((row) => {
    const query = `\`${row.query.replaceAll('|', '\\|')}\``;
    return `| ${row.calls} | ${row.total_ms} | ${row.mean_ms} | ${row.plans} | ${row.plan_ms} | ${row.rows} | ${query} |`;
  });
  return [
    'statements by time, execution and planning (pg_stat_statements):',
    '| calls | total ms | mean ms | plans | planning ms | rows | statement |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
}

async function benchmarkWith(cluster: BenchCluster, options: Options, payouts: PayoutSimulator): Promise<boolean> {
  const profile_flags = options.cpu_prof_dir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpu_prof_dir}`] : [];
  await timed('embedded PostgreSQL (durable: false) + migrations', () => cluster.start(options.statements ? ['pg_stat_statements'] : []));
  const pods = await timed('3 pods', () => cluster.startPods(cluster.database_url, profile_flags));
  payouts.setCallbackUrls(pods.urls);
  const config = loadConfig({ DATABASE_URL: cluster.database_url, LOG_LEVEL: 'warn' });
  const client = await PodClient.create(pods.urls, options.concurrency);
  const baseline_pool = new pg.Pool({
    connectionString: cluster.database_url,
    max: options.concurrency,
    application_name: 'creditshop:bench-baseline',
  });
  try {
    if (options.schema_variants.length > 0) {
      await timed(`schema variant ${options.schema_variants.join(', ')}`, () =>
        applySchemaVariants(baseline_pool, options.schema_variants),
      );
    }
    const { fixtures, retried } = await timed(
      `${options.accounts} accounts opened through the API and funded; baseline wallets; keys prefilled`,
      () => provision(client, config, { accounts: options.accounts, concurrency: PROVISION_CONCURRENCY, baseline_pool }),
    );
    console.log(`  set-up requests repeated with the same Idempotency-Key: ${JSON.stringify(retried)}`);
    await timed('ANALYZE', () => baseline_pool.query('ANALYZE'));
    if (options.statements) {
      // Planning is counted too: a prepared statement planned again at every execution costs its plan each time.
      await baseline_pool.query('ALTER SYSTEM SET pg_stat_statements.track_planning = on');
      await baseline_pool.query('SELECT pg_reload_conf()');
      await baseline_pool.query('CREATE EXTENSION pg_stat_statements; SELECT pg_stat_statements_reset()');
    }
    const catalog = scenarios({ client, baseline_pool, fixtures, concurrency: options.concurrency }, podCounts(client));
    const bench: Bench = { options, meter: new CpuMeter(await cluster.postmaster_pid(), () => pods.pids), results: [] };
    console.log(`\nscenarios (${options.warmup_s} s warm-up + ${options.duration_s} s measured each):`);
    let exported: string | undefined;
    for (const id of options.scenarios) {
      if (id === 'half') {
        const peaks = bench.results.filter((result) => result.kind === 'service' && result.phase === 'peak' && result.id !== 'd1');
        for (const peak of peaks) await measure(bench, catalog[peak.id]!, 'half', peak.stats.ops_per_s / 2);
      } else if (id === 'delay') {
        await delayed(bench, cluster, { baseline_pool, fixtures });
      } else if (id === 'x') {
        exported = await timed(`\ncompliance export of ${options.export_rows} ledger rows`, () =>
          runExportBenchmark({
            database_url: cluster.database_url,
            pod_url: pods.urls[0]!,
            pod_pid: pods.pids[0]!,
            rows: options.export_rows,
            log: (line) => console.log(`  ${line}`),
          }),
        );
      } else if (id !== 's' && id !== 'wh') {
        await measure(bench, catalog[id]!, 'peak');
      }
    }
    const webhooks = options.scenarios.includes('wh') ? await webhookScenario(bench, pods, baseline_pool, catalog['b']!) : undefined;
    const rtt_ms = 2 * options.delay_ms;
    console.log(`\n${resultsTable(bench.results)}\n\nCPU (cores busy, and CPU ms per operation):\n${cpuTable(bench.results)}\n`);
    console.log(goals(bench.results, rtt_ms));
    if (webhooks) console.log(`\n${webhooks}`);
    if (exported) console.log(`\n${exported}`);
    if (options.statements) console.log(`\n${await topStatements(baseline_pool)}`);
    const clean = await reconcile(client);
    if (options.scenarios.includes('s')) {
      const sellers = await timed('\nseller aggregator benchmark (scratch databases, own pods and simulator)', () =>
        runSellerBenchmark({ database_url: cluster.database_url, log: (line) => console.log(`  ${line}`) }),
      );
      console.log(`\n${sellers.text}`);
    }
    return clean;
  } finally {
    client.close();
    await baseline_pool.end();
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  const cluster = new BenchCluster();
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= cluster.stop());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop().finally(() => process.exit(130)));
  console.log(
    `creditshop bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ` +
      `load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')}`,
  );
  let clean = false;
  try {
    clean = await benchmark(cluster, options);
  } catch (error) {
    console.error('bench failed:', error);
  } finally {
    await stop();
  }
  process.exit(clean ? 0 : 1);
}

await main();
