import type { Dialect } from '../db/database.js';
import type { PipelinedStatement } from '../db/pipeline.js';
import { invariant } from '../domain/errors.js';

/**
 * SQL types of the columns a batch writes. `region` is the home-region column `crdb_region`: TEXT
 * on PostgreSQL, the `crdb_internal_region` enum on CockroachDB (cast explicitly there). JSONB
 * values travel as text and are cast per row (arrays of JSONB are not portable): `jsonb` is SQL
 * NULL for a null value, `json_document` always a document (a null value is the JSON `null`).
 */
export type ColumnType = 'text' | 'uuid' | 'int8' | 'int4' | 'bool' | 'timestamptz' | 'jsonb' | 'json_document' | 'region';

type Field<R> = keyof R & string;

export interface TableSpec<R> {
  table: string;
  /** The primary key of a row as one string: how a batch finds the row in memory. */
  keyOf: (row: R) => string;
  /** Every column a batch writes, by record field; a `region` field is the column crdb_region. */
  columns: { [K in Field<R>]?: ColumnType };
  key: ReadonlyArray<Field<R>>;
  /** Columns an update sets. */
  mutable?: ReadonlyArray<Field<R>>;
  /**
   * The NOT NULL column an update sets only if every `guards` column still holds what the batch
   * read; otherwise it sets NULL and the statement fails with a not-null violation. Under
   * SERIALIZABLE this never happens unless the in-memory state is wrong: a bug must fail the batch,
   * not commit over rows it misread (a row count checked after the pipeline's COMMIT would be too late).
   */
  guarded?: Field<R>;
  guards?: ReadonlyArray<Field<R>>;
}

const ARRAY_TYPE: Record<ColumnType, string> = {
  text: 'text[]',
  uuid: 'uuid[]',
  int8: 'int8[]',
  int4: 'int4[]',
  bool: 'bool[]',
  timestamptz: 'timestamptz[]',
  jsonb: 'text[]',
  json_document: 'text[]',
  region: 'text[]',
};

/** Multi-row INSERT and UPDATE statements of one table, with a fixed text whatever the number of rows. */
export class TableWriter<R extends object> {
  private readonly insert_text: string;
  private readonly update_text: string | undefined;
  private readonly fields: Array<Field<R>>;

  constructor(
    private readonly spec: TableSpec<R>,
    dialect: Dialect,
  ) {
    this.fields = Object.keys(spec.columns) as Array<Field<R>>;
    const column = (field: Field<R>) => (spec.columns[field] === 'region' ? 'crdb_region' : field);
    const value = (field: Field<R>, alias: string) => {
      const type = spec.columns[field]!;
      if (type === 'jsonb' || type === 'json_document') return `${alias}::jsonb`;
      if (type === 'region' && dialect === 'cockroach') return `${alias}::crdb_internal_region`;
      return alias;
    };
    const unnest = (fields: ReadonlyArray<Field<R>>, offset = 0) =>
      `unnest(${fields.map((field, index) => `$${index + 1 + offset}::${ARRAY_TYPE[spec.columns[field]!]}`).join(', ')})`;
    this.insert_text =
      `INSERT INTO ${spec.table} (${this.fields.map(column).join(', ')}) ` +
      `SELECT ${this.fields.map((field, index) => value(field, `v.c${index}`)).join(', ')} ` +
      `FROM ${unnest(this.fields)} AS v(${this.fields.map((_, index) => `c${index}`).join(', ')})`;
    this.update_text = spec.mutable ? this.updateText(column, value, unnest) : undefined;
  }

  private updateText(
    column: (field: Field<R>) => string,
    value: (field: Field<R>, alias: string) => string,
    unnest: (fields: ReadonlyArray<Field<R>>, offset?: number) => string,
  ): string {
    const { key, mutable = [], guarded, guards = [] } = this.spec;
    invariant(guarded === undefined || mutable.includes(guarded), `${this.spec.table}: the guarded column must be mutable`);
    const fields = [...key, ...mutable, ...guards];
    const alias = (index: number) => `v.c${index}`;
    const sets = mutable.map((field, index) => {
      const set = value(field, alias(key.length + index));
      if (field !== guarded) return `${column(field)} = ${set}`;
      const still = guards.map((guard, offset) => `t.${column(guard)} IS NOT DISTINCT FROM ${alias(key.length + mutable.length + offset)}`);
      return `${column(field)} = CASE WHEN ${still.join(' AND ')} THEN ${set} END`;
    });
    const where = key.map((field, index) => `t.${column(field)} = ${alias(index)}`).join(' AND ');
    return (
      `UPDATE ${this.spec.table} AS t SET ${sets.join(', ')} ` +
      `FROM ${unnest(fields)} AS v(${fields.map((_, index) => `c${index}`).join(', ')}) WHERE ${where}`
    );
  }

  insert(rows: readonly R[]): PipelinedStatement | undefined {
    if (rows.length === 0) return undefined;
    return { name: `batch_insert_${this.spec.table}`, text: this.insert_text, values: this.columnsOf(this.fields, rows) };
  }

  update(changes: ReadonlyArray<{ original: R; current: R }>): PipelinedStatement | undefined {
    if (changes.length === 0) return undefined;
    invariant(this.update_text !== undefined, `${this.spec.table} has no mutable columns, yet a row of it changed`);
    const { key, mutable = [], guards = [] } = this.spec;
    const current = changes.map((change) => change.current);
    const original = changes.map((change) => change.original);
    return {
      name: `batch_update_${this.spec.table}`,
      text: this.update_text,
      values: [...this.columnsOf(key, current), ...this.columnsOf(mutable, current), ...this.columnsOf(guards, original)],
    };
  }

  private columnsOf(fields: ReadonlyArray<Field<R>>, rows: readonly R[]): unknown[][] {
    return fields.map((field) => {
      const type = this.spec.columns[field];
      return rows.map((row) => {
        const value = row[field] as unknown;
        if (type === 'json_document') return JSON.stringify(value ?? null);
        if (value === undefined || value === null) return null;
        return type === 'jsonb' ? JSON.stringify(value) : value;
      });
    });
  }
}
