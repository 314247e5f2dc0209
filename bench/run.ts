import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/platform/config.js';
import { expectStatus, PodClient } from './api.js';
import { BenchCluster } from './cluster.js';
import { CpuMeter } from './cpu.js';
import { runLoad } from './load.js';
import { cpuTable, goals, resultsTable, systemCpuMsPerRequest, type ScenarioResult } from './report.js';
import { provision } from './fixtures.js';
import { scenarios, type Scenario } from './scenarios.js';
import { runSellerBenchmark } from './sellers.js';
import { runWebhookBenchmark } from './webhooks.js';

// `npm run bench [-- --duration-s 10 --warmup-s 2 --concurrency 32 --scenarios b,c,o,d,a,p,q,r,w,s
//                    --accounts 10000 --ceiling-pool 8 --webhook-outage-s 60 --cpu-prof <dir>]`
// One fresh embedded PostgreSQL, three pod processes, then each scenario in the order given (see
// BENCHMARKS.md). The service scenarios go first, while the pods are warm from the set-up: after the
// ceilings' half minute of idleness their connection pools and JIT state are cold again.

const SCENARIO_IDS = ['a', 'p', 'r', 'q', 'b', 'c', 'o', 'd', 'w', 's'];
/** `w`: debits with a webhook endpoint subscribed to everything, then the receiver down and back (bench/webhooks.ts), after the others. */
const WEBHOOKS_SCENARIO = 'w';
/** `s`: the seller aggregator benchmark (bench/sellers.ts), run last with databases and pods of its own on the same server. */
const SELLERS_SCENARIO = 's';
const PROVISION_CONCURRENCY = 16;

interface Options {
  duration_s: number;
  warmup_s: number;
  concurrency: number;
  scenarios: string[];
  accounts: number;
  /** Connections shared by all clients in scenario p (the ceiling with few transactions in flight). */
  ceiling_pool: number;
  webhook_outage_s: number;
  cpu_prof_dir: string | undefined;
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
      scenarios: { type: 'string', default: 'b,c,o,d,a,p,q,r,w,s' },
      accounts: { type: 'string', default: '10000' },
      'ceiling-pool': { type: 'string', default: '8' },
      'webhook-outage-s': { type: 'string', default: '60' },
      'cpu-prof': { type: 'string' },
    },
  });
  const selected = values.scenarios.split(',').filter(Boolean);
  const unknown = selected.filter((id) => !SCENARIO_IDS.includes(id));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; choose from ${SCENARIO_IDS.join(', ')}`);
  return {
    duration_s: positive('duration-s', values['duration-s'], 600),
    warmup_s: positive('warmup-s', values['warmup-s'], 600),
    concurrency: Math.round(positive('concurrency', values.concurrency, 1000)),
    scenarios: selected,
    accounts: Math.round(positive('accounts', values.accounts, 1_000_000)),
    ceiling_pool: Math.round(positive('ceiling-pool', values['ceiling-pool'], 1000)),
    webhook_outage_s: positive('webhook-outage-s', values['webhook-outage-s'], 600),
    cpu_prof_dir: values['cpu-prof'],
  };
}

interface Harness {
  options: Options;
  meter: CpuMeter;
}

async function measure(harness: Harness, scenario: Scenario): Promise<ScenarioResult> {
  const { options, meter } = harness;
  const counts_before = await scenario.counts();
  const cpu_before = await meter.sample();
  const stats = await runLoad({
    concurrency: scenario.concurrency,
    warmup_ms: options.warmup_s * 1000,
    duration_ms: options.duration_s * 1000,
    operation: scenario.operation,
  });
  const cpu = CpuMeter.between(cpu_before, await meter.sample());
  const counts = await scenario.counts();
  const { id, kind, title, concurrency } = scenario;
  const result: ScenarioResult = { id, kind, title, concurrency, stats, cpu, retries: counts.retries - counts_before.retries };
  if (counts.contention_locks !== undefined) result.contention_locks = counts.contention_locks - (counts_before.contention_locks ?? 0);
  if (counts.stale_socket_resends !== undefined)
    result.stale_socket_resends = counts.stale_socket_resends - (counts_before.stale_socket_resends ?? 0);
  console.log(
    `  ${scenario.id.padEnd(3)} ${stats.ops_per_s.toFixed(0).padStart(6)} ops/s  p50 ${stats.latency_p50_ms.toFixed(1)} ms  ` +
      `p99 ${stats.latency_p99_ms.toFixed(1)} ms  failed ${stats.failed}/${stats.requests}`,
  );
  return result;
}

function baselineOf(result: ScenarioResult | undefined) {
  return result && { ops_per_s: result.stats.ops_per_s, system_ms_per_request: systemCpuMsPerRequest(result) };
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

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started_ms = performance.now();
  const result = await work();
  console.log(`${what}: ${((performance.now() - started_ms) / 1000).toFixed(1)} s`);
  return result;
}

async function benchmark(cluster: BenchCluster, options: Options): Promise<boolean> {
  const profile_flags = options.cpu_prof_dir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpu_prof_dir}`] : [];
  await timed('embedded PostgreSQL (durable: false) + migrations + 3 pods', () => cluster.start(profile_flags));
  const config = loadConfig({ DATABASE_URL: cluster.database_url, LOG_LEVEL: 'warn' });
  const client = await PodClient.create(cluster.pod_urls, options.concurrency);
  const pools = {
    per_client: new pg.Pool({
      connectionString: cluster.database_url,
      max: options.concurrency,
      application_name: 'creditshop:bench-ceiling',
    }),
    shared: new pg.Pool({
      connectionString: cluster.database_url,
      max: options.ceiling_pool,
      application_name: 'creditshop:bench-ceiling',
    }),
  };
  try {
    const { fixtures, retried } = await timed(
      `${options.accounts} accounts opened through the API, funded through the ledger; idempotency keys prefilled`,
      () => provision(client, config, options.accounts, PROVISION_CONCURRENCY),
    );
    console.log(`  set-up requests repeated with the same Idempotency-Key: ${JSON.stringify(retried)}`);
    await timed('ANALYZE (planner statistics of the now populated tables)', () => pools.shared.query('ANALYZE'));
    const catalog = scenarios({ config, client, pools, fixtures, concurrency: options.concurrency });
    const harness: Harness = { options, meter: new CpuMeter(await cluster.postmaster_pid(), () => cluster.pod_pids) };
    const results: ScenarioResult[] = [];
    console.log(`\nscenarios (${options.warmup_s} s warm-up + ${options.duration_s} s measured each):`);
    for (const id of options.scenarios) for (const scenario of catalog[id] ?? []) results.push(await measure(harness, scenario));
    console.log(`\n${resultsTable(results)}\n\nCPU (cores busy, and CPU ms per request):\n${cpuTable(results)}\n`);
    console.log(goals(results));
    if (options.scenarios.includes(WEBHOOKS_SCENARIO)) {
      const webhooks = await timed('\nwebhook benchmark (scenario w)', () =>
        runWebhookBenchmark({
          client,
          pod_urls: cluster.pod_urls,
          pool: pools.shared,
          accounts: fixtures.accounts,
          concurrency: options.concurrency,
          warmup_s: options.warmup_s,
          duration_s: options.duration_s,
          outage_s: options.webhook_outage_s,
          baseline: baselineOf(results.find((result) => result.id === 'b')),
          meter: harness.meter,
          log: (line) => console.log(`  ${line}`),
        }),
      );
      console.log(`\n${webhooks.text}`);
    }
    const clean = await reconcile(client);
    if (options.scenarios.includes(SELLERS_SCENARIO)) {
      const sellers = await timed('\nseller aggregator benchmark (scratch databases, own pods and simulator)', () =>
        runSellerBenchmark({ database_url: cluster.database_url, log: (line) => console.log(`  ${line}`) }),
      );
      console.log(`\n${sellers.text}`);
    }
    return clean;
  } finally {
    client.close();
    await Promise.all([pools.per_client.end(), pools.shared.end()]);
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  const cluster = new BenchCluster();
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= cluster.stop());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop().finally(() => process.exit(130)));
  console.log(
    `creditshop bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average ${loadavg()
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
