import type { SqlTx } from '../db/sql.js';
import { emitEventsIn } from '../events/emit-in-transaction.js';
import type { AppDeps } from '../platform/deps.js';
import { databaseNow, fleetTask, readFleetTaskResult, recordFleetTaskResult } from '../platform/fleet-task.js';
import type { Metrics } from '../platform/metrics.js';
import type { PeriodicTask } from '../platform/worker.js';
import { reconcile, type Mismatch } from './reconcile.js';

export type ReconciliationTrigger = 'schedule' | 'admin';

type Report = { ok: boolean; mismatches: Mismatch[] };

/** What the fleet keeps of a reconciliation: how many mismatches each check found. */
type StoredReport = { mismatches: Record<string, number> };

type Deps = Pick<AppDeps, 'transactions' | 'metrics' | 'logger' | 'db' | 'region' | 'config'>;

/** Mismatches a `reconciliation.mismatch_found` event lists at most (it counts all of them by check). */
const MISMATCHES_IN_EVENT_MAX = 100;

/** The fleet task's row in fleet_tasks; its last result is the fleet's last report. */
const TASK_NAME = 'reconciliation';

/**
 * Reconciles the whole database, then records the report as the fleet's last (unless a run that
 * started later already did) and shows it in this pod's gauges at once; the other pods show it
 * after their next fleet gauge refresh. A report that could not be recorded is still returned.
 */
export async function runReconciliation(deps: Deps, trigger: ReconciliationTrigger): Promise<Report> {
  const { started_at, report } = await reconcileCounted(deps, trigger);
  const stored: StoredReport = { mismatches: countByCheck(report.mismatches) };
  if (!report.ok) deps.logger.warn({ trigger, mismatches: stored.mismatches }, 'reconciliation found mismatches');
  if (!report.ok && trigger === 'schedule') await announceMismatches(deps, started_at, report, stored);
  try {
    const finished_at = await recordFleetTaskResult(deps, TASK_NAME, started_at, stored);
    if (finished_at) showReport(deps.metrics, stored, finished_at);
  } catch (error) {
    deps.logger.warn({ err: error, trigger }, 'the reconciliation report could not be recorded');
  }
  return report;
}

async function reconcileCounted(deps: Deps, trigger: ReconciliationTrigger): Promise<{ started_at: string; report: Report }> {
  try {
    const started_at = await databaseNow(deps);
    const report = await reconcile(deps);
    deps.metrics.reconciliation_runs_total.inc({ trigger, outcome: report.ok ? 'clean' : 'mismatches' });
    return { started_at, report };
  } catch (error) {
    deps.metrics.reconciliation_runs_total.inc({ trigger, outcome: 'failed' });
    throw error;
  }
}

/** A scheduled run that found mismatches is an event (an admin's own run answers the admin). */
async function announceMismatches(deps: Deps, started_at: string, report: Report, stored: StoredReport): Promise<void> {
  const data = {
    ok: false,
    started_at,
    mismatches_by_check: stored.mismatches,
    mismatches: report.mismatches.slice(0, MISMATCHES_IN_EVENT_MAX),
    truncated: report.mismatches.length > MISMATCHES_IN_EVENT_MAX,
  };
  try {
    await deps.transactions.run('reconciliation_event', (tx) => emitEventsIn(tx, deps, [{ type: 'reconciliation.mismatch_found', data }]));
  } catch (error) {
    deps.logger.warn({ err: error }, 'the reconciliation.mismatch_found event could not be written');
  }
}

function countByCheck(mismatches: readonly Mismatch[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const mismatch of mismatches) counts[mismatch.check] = (counts[mismatch.check] ?? 0) + 1;
  return counts;
}

function showReport(metrics: Metrics, report: StoredReport, finished_at: string): void {
  // Checks that found nothing drop out; reset and set run without a pause, so no scrape sees the gap.
  metrics.reconciliation_mismatches.reset();
  for (const [check, count] of Object.entries(report.mismatches)) metrics.reconciliation_mismatches.set({ check }, count);
  metrics.reconciliation_last_success_timestamp_seconds.set(Date.parse(finished_at) / 1000);
}

/** Reconciliation every RECONCILIATION_INTERVAL_SECONDS, by one pod of the fleet at a time. */
export function reconciliationTask(deps: AppDeps): PeriodicTask {
  return fleetTask(deps, {
    name: TASK_NAME,
    interval_ms: deps.config.reconciliation_interval_seconds * 1000,
    run: async () => {
      await runReconciliation(deps, 'schedule');
    },
  });
}

/** Shows the fleet's last recorded report (whichever pod ran it) in this pod's gauges. */
export async function refreshReconciliationGauges(deps: Pick<AppDeps, 'metrics'>, tx: SqlTx): Promise<void> {
  const last = await readFleetTaskResult(tx, TASK_NAME);
  if (last) showReport(deps.metrics, parseStoredReport(last.result), last.finished_at);
}

function parseStoredReport(value: unknown): StoredReport {
  const mismatches = (value as { mismatches?: unknown } | null)?.mismatches ?? {};
  const counts = Object.entries(mismatches as object).filter((entry): entry is [string, number] => Number.isSafeInteger(entry[1]));
  return { mismatches: Object.fromEntries(counts) };
}
