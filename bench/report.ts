import type { CpuGroup, CpuUsage } from './cpu.js';
import type { LoadStats } from './load.js';
import type { Counts } from './scenarios.js';

export type Phase = 'peak' | 'half' | 'delayed';

export interface ScenarioResult {
  id: string;
  phase: Phase;
  kind: 'sql' | 'service';
  title: string;
  /** Closed loop: clients; open loop: the arrival rate per second. */
  load: string;
  stats: LoadStats;
  cpu: CpuUsage;
  /** Counter deltas over the scenario. */
  counts: Counts;
}

const CPU_GROUPS: CpuGroup[] = ['postgres', 'pods', 'load_generator', 'other'];
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
const table = (header: readonly string[], lines: readonly string[]) => [row(header), row(header.map(() => '---')), ...lines].join('\n');

/** CPU milliseconds per request of a group (requests include the warm-up: CPU is measured over the same span). */
export const msPer = (result: ScenarioResult, groups: readonly CpuGroup[]) =>
  (groups.reduce((sum, group) => sum + result.cpu.seconds[group], 0) * 1000) / result.stats.requests;

export function resultsTable(results: readonly ScenarioResult[]): string {
  const header = [
    'scenario',
    'load',
    'ops/s',
    'p50 ms',
    'p99 ms',
    'failed / requests',
    'batch retries',
    'queued',
    'DB round trips / op',
    'CPU ms / op (pods + PostgreSQL)',
  ];
  return table(
    header,
    results.map((result) => {
      const { id, phase, title, load, stats, counts, kind } = result;
      return row([
        `${id}${phase === 'peak' ? '' : ` (${phase})`}: ${title}`,
        load,
        fixed(stats.ops_per_s, 0),
        fixed(stats.latency_p50_ms, 1),
        fixed(stats.latency_p99_ms, 1),
        `${stats.failed} / ${stats.requests}`,
        kind === 'service' ? String(counts.retries) : '-',
        kind === 'service' ? String(counts.queued) : '-',
        kind === 'service' ? fixed(counts.round_trips / stats.requests, 2) : '5',
        fixed(msPer(result, ['pods', 'postgres']), 3),
      ]);
    }),
  );
}

/** Where the CPU went: cores busy per process group, and CPU milliseconds per request. */
export function cpuTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', ...CPU_GROUPS.map((group) => `${group} cores (ms/op)`)];
  return table(
    header,
    results.map((result) =>
      row([
        `${result.id}${result.phase === 'peak' ? '' : ` (${result.phase})`}`,
        ...CPU_GROUPS.map((group) => `${fixed(result.cpu.seconds[group] / result.cpu.wall_s, 2)} (${fixed(msPer(result, [group]), 3)})`),
      ]),
    ),
  );
}

const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

interface Ratio {
  name: string;
  numerator: string;
  denominator: string;
  goal_min: number;
}

const RATIOS: Ratio[] = [
  { name: 'b/m   debits, random wallets, vs baseline', numerator: 'b', denominator: 'm', goal_min: 1.0 },
  { name: 'd/mh  debits, one hot wallet, vs baseline', numerator: 'd', denominator: 'mh', goal_min: 3.0 },
  { name: 'o/m   two-line orders vs baseline debits', numerator: 'o', denominator: 'm', goal_min: 0.8 },
  { name: 'c/m   transfers vs baseline debits', numerator: 'c', denominator: 'm', goal_min: 0.9 },
  { name: 'k1/k0 debits with KYC limits vs without', numerator: 'k1', denominator: 'k0', goal_min: 0.9 },
];

/** Every goal of issue 9 with its measured value. */
export function goals(results: readonly ScenarioResult[], rtt_ms: number): string {
  const find = (id: string, phase: Phase = 'peak') => results.find((result) => result.id === id && result.phase === phase);
  const lines: string[] = [];
  for (const ratio of RATIOS) {
    const numerator = find(ratio.numerator);
    const denominator = find(ratio.denominator);
    if (!numerator || !denominator) continue;
    const value = numerator.stats.ops_per_s / denominator.stats.ops_per_s;
    // What the ratio would be on an otherwise idle, CPU-bound machine: the inverse of the CPU cost per request.
    const all: CpuGroup[] = ['postgres', 'pods', 'load_generator'];
    const by_cpu = msPer(denominator, all) / msPer(numerator, all);
    const goal = `goal >= ${ratio.goal_min}: ${verdict(value >= ratio.goal_min)}`;
    lines.push(`${ratio.name.padEnd(44)} ${fixed(value, 2)}  (by CPU cost ${fixed(by_cpu, 2)})  ${goal}`);
  }
  const failing = results.filter((result) => result.kind === 'service' && result.stats.failed > 0);
  const failures = failing.map((result) => `${result.id}/${result.phase} ${JSON.stringify(result.stats.failures)}`).join(', ');
  lines.push(
    failing.length === 0
      ? 'failed requests through the service: 0 in every scenario  goal 0: met'
      : `failed requests through the service: ${failures}  goal 0: MISSED`,
  );
  for (const half of results.filter((result) => result.phase === 'half')) {
    const spread = half.stats.latency_p99_ms / half.stats.latency_p50_ms;
    const label = `${half.id} at half its peak rate: p99 / p50`;
    lines.push(`${label.padEnd(44)} ${fixed(spread, 2)}  goal <= 3: ${verdict(spread <= 3)}`);
  }
  const single = find('b1', 'delayed');
  if (single) {
    const goal_ms = 7 * rtt_ms;
    const p50_ms = single.stats.latency_p50_ms;
    const round_trips = single.counts.round_trips / single.stats.requests;
    lines.push(
      `${`debit p50 at 1 client, RTT ${rtt_ms} ms`.padEnd(44)} ${fixed(p50_ms, 1)} ms = ${fixed(p50_ms / rtt_ms, 1)} RTT, ` +
        `${fixed(round_trips, 2)} round trips per debit  goal <= 7 RTT (${goal_ms} ms): ${verdict(p50_ms <= goal_ms)}`,
    );
  }
  const delayed = find('b', 'delayed');
  const undelayed = find('b');
  if (delayed && undelayed) {
    const value = delayed.stats.ops_per_s / undelayed.stats.ops_per_s;
    lines.push(`${'b delayed / b undelayed, 32 clients'.padEnd(44)} ${fixed(value, 2)}  goal >= 0.5: ${verdict(value >= 0.5)}`);
  }
  const hot = find('d', 'delayed');
  if (hot)
    lines.push(
      `${'d delayed: one hot wallet, 32 clients'.padEnd(44)} ${fixed(hot.stats.ops_per_s, 0)} req/s  ` +
        `goal >= 250: ${verdict(hot.stats.ops_per_s >= 250)}`,
    );
  return lines.join('\n');
}
