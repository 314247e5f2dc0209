import type { CpuGroup, CpuUsage } from './cpu.js';
import type { LoadStats } from './load.js';

export interface ScenarioResult {
  id: string;
  kind: 'sql' | 'service';
  title: string;
  concurrency: number;
  stats: LoadStats;
  cpu: CpuUsage;
  /** Transaction retries (pods or ceiling client), and contention-lock waits (pods only). */
  retries: number;
  contention_locks?: number;
  stale_socket_resends?: number;
}

interface Ratio {
  name: string;
  numerator: string;
  denominator: string;
  goal_min?: number;
}

const RATIOS: Ratio[] = [
  { name: 'b/a (HTTP debits vs ceiling)', numerator: 'b', denominator: 'a', goal_min: 0.5 },
  { name: 'c/a (HTTP transfers vs ceiling)', numerator: 'c', denominator: 'a', goal_min: 0.45 },
  { name: 'o/q (HTTP 2-line orders vs ceiling)', numerator: 'o', denominator: 'q', goal_min: 0.5 },
  { name: 'b/p (HTTP debits vs pooled ceiling)', numerator: 'b', denominator: 'p' },
  { name: 'c/p (HTTP transfers vs pooled ceiling)', numerator: 'c', denominator: 'p' },
  { name: 'r/a (one @revenue row vs shards, SQL)', numerator: 'r', denominator: 'a' },
  { name: 'd/d1 (hot wallet: many clients vs one)', numerator: 'd', denominator: 'd1' },
];
const CPU_GROUPS: CpuGroup[] = ['postgres', 'pods', 'load_generator', 'other'];

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

export function resultsTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'clients', 'ops/s', 'p50 ms', 'p99 ms', 'failed / requests', 'txn retries', 'lock waits', 'socket resends'];
  const optional = (value: number | undefined) => (value === undefined ? '-' : String(value));
  const lines = results.map(({ id, title, concurrency, stats, retries, contention_locks, stale_socket_resends }) =>
    row([
      `${id}: ${title}`,
      String(concurrency),
      fixed(stats.ops_per_s, 0),
      fixed(stats.latency_p50_ms, 1),
      fixed(stats.latency_p99_ms, 1),
      `${stats.failed} / ${stats.requests}`,
      String(retries),
      optional(contention_locks),
      optional(stale_socket_resends),
    ]),
  );
  return [row(header), row(header.map(() => '---')), ...lines].join('\n');
}

/** CPU of the benchmarked system (PostgreSQL, pods, load generator) per request: "other" is not ours. */
export function systemCpuMsPerRequest({ cpu, stats }: ScenarioResult): number {
  return ((cpu.seconds.postgres + cpu.seconds.pods + cpu.seconds.load_generator) * 1000) / stats.requests;
}

/** Where the CPU went: cores busy per process group, and CPU milliseconds per request. */
export function cpuTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', ...CPU_GROUPS.map((group) => `${group} cores (ms/req)`), 'system ms/req'];
  const lines = results.map((result) => {
    const { id, stats, cpu } = result;
    const groups = CPU_GROUPS.map(
      (group) => `${fixed(cpu.seconds[group] / cpu.wall_s, 2)} (${fixed((cpu.seconds[group] * 1000) / stats.requests, 2)})`,
    );
    return row([id, ...groups, fixed(systemCpuMsPerRequest(result), 2)]);
  });
  return [row(header), row(header.map(() => '---')), ...lines].join('\n');
}

/** The ratios against their goals (throughput, and by CPU cost) and the failed-request goal. */
export function goals(results: readonly ScenarioResult[]): string {
  const by_id = new Map(results.map((result) => [result.id, result]));
  const lines: string[] = [];
  for (const ratio of RATIOS) {
    const numerator = by_id.get(ratio.numerator);
    const denominator = by_id.get(ratio.denominator);
    if (!numerator || !denominator) continue;
    const value = numerator.stats.ops_per_s / denominator.stats.ops_per_s;
    // What the ratio would be on an otherwise idle CPU-bound machine: inverse CPU cost per request.
    const by_cpu = systemCpuMsPerRequest(denominator) / systemCpuMsPerRequest(numerator);
    const verdict =
      ratio.goal_min === undefined
        ? ''
        : value >= ratio.goal_min
          ? `  goal >= ${ratio.goal_min}: met`
          : `  goal >= ${ratio.goal_min}: MISSED`;
    lines.push(`${ratio.name.padEnd(42)} ${fixed(value, 2)}  (by CPU cost ${fixed(by_cpu, 2)})${verdict}`);
  }
  const failed = (kind: ScenarioResult['kind']) => results.filter((result) => result.kind === kind && result.stats.failed > 0);
  const listed = (failing: ScenarioResult[]) => failing.map((result) => `${result.id} ${JSON.stringify(result.stats.failures)}`).join(', ');
  const service_failed = failed('service');
  lines.push(
    service_failed.length === 0
      ? 'failed requests through the service: 0 in every scenario  goal 0: met'
      : `failed requests through the service  goal 0: MISSED in ${listed(service_failed)}`,
  );
  const sql_failed = failed('sql');
  if (sql_failed.length > 0) lines.push(`(bare pg client, no contention handling: ${listed(sql_failed)})`);
  return lines.join('\n');
}
