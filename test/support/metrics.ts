import type { AppDeps } from '../../src/platform/deps.js';

/** An in-process pod's counter or gauge: the sum of its values whose labels include `labels` (0 when none). */
export async function metricSum(deps: AppDeps, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await deps.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label))
    .reduce((sum, value) => sum + value.value, 0);
}
