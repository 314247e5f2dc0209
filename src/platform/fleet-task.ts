import { randomUUID } from 'node:crypto';
import { timestamp, type SqlTx } from '../db/sql.js';
import type { AppDeps } from './deps.js';
import type { PeriodicTask } from './worker.js';

type Deps = Pick<AppDeps, 'transactions' | 'config' | 'logger' | 'region'>;

// Every pod asks whether a run is due this many times per interval: a run starts at most a tenth
// of the interval late, and an ask costs one conditional statement on one row.
const ASKS_PER_INTERVAL = 10;
const HEARTBEATS_PER_LEASE = 3;

export interface FleetTaskSpec {
  /** The task's row in fleet_tasks. */
  name: string;
  interval_ms: number;
  /** Runs in one pod of the fleet at a time, at most once per interval (a failed run is tried again after one ask). */
  run(): Promise<void>;
}

/**
 * A periodic task that ONE pod of the fleet runs at a time (whole-database work such as
 * reconciliation, which every pod running would only multiply). Every pod asks; the pod whose
 * conditional upsert finds the task due and its lease free takes the lease, renews it while the
 * run lasts, and sets the next run one interval after the end. A pod that dies mid-run leaves a
 * lease that expires after FLEET_TASK_LEASE_MS; the next ask of any pod after that runs it.
 * Returns 1 from run() when this pod ran the task, 0 when it was not due or another pod holds it.
 */
export function fleetTask(deps: Deps, spec: FleetTaskSpec): PeriodicTask {
  const ask_ms = Math.max(1, Math.floor(spec.interval_ms / ASKS_PER_INTERVAL));
  return {
    name: spec.name,
    interval_ms: ask_ms,
    batch_size: 1,
    run: async () => {
      const token = randomUUID();
      if (!(await claim(deps, spec.name, token))) return 0;
      const heartbeat = setInterval(
        () =>
          void renew(deps, spec.name, token).catch((error: unknown) =>
            deps.logger.warn({ err: error, task: spec.name }, 'lease renewal failed'),
          ),
        Math.max(1, Math.floor(deps.config.fleet_task_lease_ms / HEARTBEATS_PER_LEASE)),
      );
      heartbeat.unref();
      try {
        await spec.run();
      } catch (error) {
        // Due again after one ask; if even the release fails, the lease expires on its own.
        await release(deps, spec.name, token, ask_ms).catch(() => undefined);
        throw error;
      } finally {
        clearInterval(heartbeat);
      }
      await release(deps, spec.name, token, spec.interval_ms);
      return 1;
    },
  };
}

async function claim(deps: Deps, name: string, token: string): Promise<boolean> {
  const rows = await deps.transactions.read((tx) =>
    tx.rows(
      `INSERT INTO fleet_tasks (name, lease_token, lease_owner, lease_expires_at, next_run_at)
       VALUES (?, ?, ?, now() + CAST(? AS INTERVAL), now())
       ON CONFLICT (name) DO UPDATE
         SET lease_token = excluded.lease_token, lease_owner = excluded.lease_owner,
             lease_expires_at = excluded.lease_expires_at, updated_at = now()
         WHERE fleet_tasks.next_run_at <= now()
           AND (fleet_tasks.lease_expires_at IS NULL OR fleet_tasks.lease_expires_at < now())
       RETURNING name`,
      [name, token, `${deps.region}:${process.pid}`, `${deps.config.fleet_task_lease_ms} milliseconds`],
    ),
  );
  return rows.length === 1;
}

async function renew(deps: Deps, name: string, token: string): Promise<void> {
  const renewed = await deps.transactions.read((tx) =>
    tx.execute(
      'UPDATE fleet_tasks SET lease_expires_at = now() + CAST(? AS INTERVAL), updated_at = now() WHERE name = ? AND lease_token = ?',
      [`${deps.config.fleet_task_lease_ms} milliseconds`, name, token],
    ),
  );
  // Our lease expired (the database was unreachable for longer than it) and another pod took the
  // task: the run carries on, and the results it records are ordered by when each run started.
  if (renewed === 0) deps.logger.warn({ task: name }, 'fleet task lease taken over by another pod');
}

/** Frees the lease; the task is due again `next_run_in_ms` from now. */
async function release(deps: Deps, name: string, token: string, next_run_in_ms: number): Promise<void> {
  await deps.transactions.read((tx) =>
    tx.execute(
      `UPDATE fleet_tasks SET lease_token = NULL, lease_expires_at = NULL, next_run_at = now() + CAST(? AS INTERVAL), updated_at = now()
       WHERE name = ? AND lease_token = ?`,
      [`${next_run_in_ms} milliseconds`, name, token],
    ),
  );
}

/** The database's clock: when a run whose result will be recorded starts. */
export async function databaseNow(deps: Pick<AppDeps, 'transactions'>): Promise<string> {
  const row = await deps.transactions.read((tx) => tx.one<{ now: string | Date }>('SELECT now() AS now'));
  return timestamp(row.now);
}

/**
 * Records the result of a run of a fleet task (or of the same work started by hand) unless the
 * task already holds the result of a run that started later. Returns when it was recorded as
 * finished (the database's clock), undefined when a later run's result stays.
 */
export async function recordFleetTaskResult(
  deps: Pick<AppDeps, 'transactions'>,
  name: string,
  started_at: string,
  result: Record<string, unknown>,
): Promise<string | undefined> {
  const row = await deps.transactions.read((tx) =>
    tx.maybeOne<{ last_finished_at: string | Date }>(
      `INSERT INTO fleet_tasks (name, next_run_at, last_started_at, last_finished_at, last_result)
       VALUES (?, now(), CAST(? AS TIMESTAMPTZ), now(), CAST(? AS JSONB))
       ON CONFLICT (name) DO UPDATE
         SET last_started_at = excluded.last_started_at, last_finished_at = excluded.last_finished_at,
             last_result = excluded.last_result, updated_at = now()
         WHERE fleet_tasks.last_started_at IS NULL OR fleet_tasks.last_started_at < excluded.last_started_at
       RETURNING last_finished_at`,
      [name, started_at, JSON.stringify(result)],
    ),
  );
  return row && timestamp(row.last_finished_at);
}

export interface FleetTaskResult {
  finished_at: string;
  result: unknown;
}

/** The last recorded result of a fleet task; undefined before the first. */
export async function readFleetTaskResult(tx: SqlTx, name: string): Promise<FleetTaskResult | undefined> {
  const row = await tx.maybeOne<{ last_finished_at: string | Date | null; last_result: unknown }>(
    'SELECT last_finished_at, last_result FROM fleet_tasks WHERE name = ?',
    [name],
  );
  if (!row || row.last_finished_at === null) return undefined;
  return { finished_at: timestamp(row.last_finished_at), result: row.last_result };
}
