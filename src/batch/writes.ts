import type { Dialect } from '../db/database.js';
import type { PipelinedStatement } from '../db/pipeline.js';
import { EVENTS } from '../events/event-records.js';
import { settleGuard } from '../events/settle-guard.js';
import { WRITE_ORDER } from './schema.js';
import { TableWriter, type TableSpec } from './table-writer.js';
import type { Unit } from './unit.js';

/**
 * The batch's additions to system accounts, as one upsert of deltas on its own shard: the shard
 * is never read inside the batch (on PostgreSQL, reading it would predicate-lock rows that other
 * batches write next to).
 */
function shardUpsert(dialect: Dialect): (unit: Unit) => PipelinedStatement | undefined {
  const region = dialect === 'cockroach' ? '$4::crdb_internal_region' : '$4';
  const text =
    'INSERT INTO system_balance_shards (account_id, currency, shard, balance_minor, crdb_region, updated_at) ' +
    `SELECT v.account_id, v.currency, $3, v.delta, ${region}, $5 ` +
    'FROM unnest($1::text[], $2::text[], $6::int8[]) AS v(account_id, currency, delta) ' +
    'ON CONFLICT (account_id, currency, shard) DO UPDATE ' +
    'SET balance_minor = system_balance_shards.balance_minor + excluded.balance_minor, updated_at = excluded.updated_at';
  return (unit) => {
    const deltas = unit.shards.inserted().filter((delta) => delta.delta_minor !== 0);
    if (deltas.length === 0) return undefined;
    const values = [
      deltas.map((delta) => delta.account_id),
      deltas.map((delta) => delta.currency),
      unit.shard,
      unit.region,
      unit.now,
      deltas.map((delta) => delta.delta_minor),
    ];
    return { name: 'batch_upsert_shards', text, values };
  };
}

/** The statements that write a unit, one per table and kind of change, built once per process (per dialect). */
export class UnitWriter {
  private readonly writers: Array<{ spec: TableSpec<object>; writer: TableWriter<object> }>;
  private readonly shards: (unit: Unit) => PipelinedStatement | undefined;
  private readonly settle_guard: PipelinedStatement;

  constructor(dialect: Dialect, events_settle_window_ms: number) {
    this.writers = WRITE_ORDER.map((spec) => ({ spec, writer: new TableWriter(spec, dialect) }));
    this.shards = shardUpsert(dialect);
    this.settle_guard = settleGuard(events_settle_window_ms);
  }

  /** Every change of the unit, then (when it writes events) the settle guard, then COMMIT: the second and last round trip of a batch. */
  statements(unit: Unit): PipelinedStatement[] {
    const statements: PipelinedStatement[] = [];
    const shards = this.shards(unit);
    if (shards) statements.push(shards);
    for (const { spec, writer } of this.writers) {
      const table = unit.touched(spec);
      if (!table) continue;
      const inserted = writer.insert(table.inserted());
      if (inserted) statements.push(inserted);
      const updated = writer.update(table.updated());
      if (updated) statements.push(updated);
    }
    if (unit.touched(EVENTS)?.inserted().length) statements.push(this.settle_guard);
    statements.push(COMMIT);
    return statements;
  }
}

const COMMIT: PipelinedStatement = { name: 'batch_commit', text: 'COMMIT', values: [] };
