import { InvariantViolation } from '../domain/errors.js';

/**
 * Undo log of a batch's in-memory state. Every change an operation makes is recorded with how to
 * take it back, so an operation that fails (insufficient funds, a bug) leaves the state exactly as
 * the operations before it left it, and the operations after it decide on that.
 */
export class Journal {
  private readonly undos: Array<() => void> = [];

  mark(): number {
    return this.undos.length;
  }

  record(undo: () => void): void {
    this.undos.push(undo);
  }

  rollbackTo(mark: number): void {
    while (this.undos.length > mark) this.undos.pop()!();
  }
}

interface Entry<R> {
  /** As read from the database; undefined for a row this batch inserts. */
  readonly original: R | undefined;
  current: R;
}

/**
 * The rows of one table that a batch read or created, keyed by primary key. Rows are immutable
 * values: a change replaces the row, so `original` keeps what the database holds (the writes
 * compare against it) and an undo restores the previous value.
 */
export class TrackedTable<R extends object> {
  private readonly rows = new Map<string, Entry<R>>();

  constructor(
    readonly name: string,
    private readonly keyOf: (row: R) => string,
    private readonly journal: Journal,
  ) {}

  /** A row as the database holds it at the start of the batch. */
  load(row: R): void {
    this.rows.set(this.keyOf(row), { original: row, current: row });
  }

  get(key: string): R | undefined {
    return this.rows.get(key)?.current;
  }

  has(key: string): boolean {
    return this.rows.has(key);
  }

  insert(row: R): R {
    const key = this.keyOf(row);
    if (this.rows.has(key)) throw new InvariantViolation(`${this.name} ${key} exists already`);
    this.rows.set(key, { original: undefined, current: row });
    this.journal.record(() => this.rows.delete(key));
    return row;
  }

  update(key: string, changes: Partial<R>): R {
    const entry = this.rows.get(key);
    if (!entry) throw new InvariantViolation(`${this.name} ${key} was not read by this batch`);
    const previous = entry.current;
    entry.current = { ...previous, ...changes };
    this.journal.record(() => {
      entry.current = previous;
    });
    return entry.current;
  }

  /** Every row, as the batch sees it now. */
  all(): R[] {
    return [...this.rows.values()].map((entry) => entry.current);
  }

  /** Rows created by this batch. */
  inserted(): R[] {
    return [...this.rows.values()].filter((entry) => entry.original === undefined).map((entry) => entry.current);
  }

  /** Rows read and then changed by this batch, with what the database holds now. */
  updated(): Array<{ original: R; current: R }> {
    const changed: Array<{ original: R; current: R }> = [];
    for (const { original, current } of this.rows.values())
      if (original !== undefined && original !== current) changed.push({ original, current });
    return changed;
  }
}
