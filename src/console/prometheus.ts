// The Prometheus text format (version 0.0.4) as /metrics serves it, read in the browser, and the
// few sums the live charts need. Pure functions: test/unit/console-prometheus.test.ts checks them.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, character: string) => (character === 'n' ? '\n' : character));
}

function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  let consumed = 0;
  for (let match = LABEL.exec(text); match; match = LABEL.exec(text)) {
    labels[match[1]!] = unescapeLabel(match[2]!);
    consumed = LABEL.lastIndex;
  }
  return consumed === text.length ? labels : undefined;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Every sample of an exposition; comments and lines that are not samples are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line.trim());
    if (!match) continue;
    const labels = match[2] === undefined ? {} : parseLabels(match[2]);
    if (labels) samples.push({ name: match[1]!, labels, value: parseValue(match[3]!) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `where`. */
export function total(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(where).every(([label, value]) => sample.labels[label] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** A histogram's cumulative bucket counts summed over its other labels: upper bound -> count. */
export function buckets(samples: readonly Sample[], histogram: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const sample of samples) {
    if (sample.name !== `${histogram}_bucket` || sample.labels['le'] === undefined) continue;
    const bound = parseValue(sample.labels['le']);
    counts.set(bound, (counts.get(bound) ?? 0) + sample.value);
  }
  return counts;
}

/** The buckets counted between two scrapes (counters only grow; a restarted pod starts again from zero). */
export function bucketIncrease(before: Map<number, number>, after: Map<number, number>): Map<number, number> {
  const increase = new Map<number, number>();
  for (const [bound, count] of after) increase.set(bound, Math.max(0, count - (before.get(bound) ?? 0)));
  return increase;
}

/**
 * The q-quantile of cumulative buckets, as PromQL's histogram_quantile computes it: linear within
 * the bucket the rank falls in; the highest finite bound when it falls in +Inf; undefined with no
 * observations.
 */
export function quantile(q: number, cumulative: Map<number, number>): number | undefined {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const count = cumulative.get(Number.POSITIVE_INFINITY) ?? 0;
  if (count === 0) return undefined;
  const rank = q * count;
  let lower_bound = 0;
  let lower_count = 0;
  for (const bound of bounds) {
    const bucket_count = cumulative.get(bound)!;
    if (bucket_count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lower_bound;
      if (bucket_count === lower_count) return bound;
      return lower_bound + ((bound - lower_bound) * (rank - lower_count)) / (bucket_count - lower_count);
    }
    lower_bound = bound;
    lower_count = bucket_count;
  }
  return lower_bound;
}
