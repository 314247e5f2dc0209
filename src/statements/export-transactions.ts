import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { int8, timestamp, type SqlTx } from '../db/sql.js';
import { DomainError } from '../domain/errors.js';
import { REFERENCE_FIELDS, type Metadata } from '../ledger/ledger-records.js';
import type { AppDeps } from '../platform/deps.js';
import type { TimeRange } from './time-range.js';

export type ExportFormat = 'csv' | 'jsonl';

/** Exports streaming in this pod: each holds one connection for its snapshot, so they are bounded (EXPORTS_IN_FLIGHT_MAX). */
export class ExportSlots {
  private in_flight = 0;

  constructor(private readonly max: number) {}

  take(): () => void {
    if (this.in_flight >= this.max) throw new DomainError('unavailable', `${this.max} exports are streaming in this pod; retry later`);
    this.in_flight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.in_flight -= 1;
    };
  }
}

/** One line of an export: a ledger entry with its transaction. */
export interface ExportRow {
  transaction_id: string;
  created_at: string;
  type: string;
  transaction_account_id: string;
  account_id: string;
  currency: string;
  amount: number;
  balance_after: number | null;
  references: Record<(typeof REFERENCE_FIELDS)[number], string | null>;
  metadata: Metadata;
}

const CSV_COLUMNS = [
  'transaction_id',
  'created_at',
  'type',
  'transaction_account_id',
  'account_id',
  'currency',
  'amount',
  'balance_after',
  ...REFERENCE_FIELDS,
  'metadata',
];

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// Text a client wrote that a spreadsheet would read as a formula (CSV injection: a player's reason
// `=HYPERLINK(…)` in an operator's export) starts with a quote: references, and account ids too (a
// game's player id `-2-3` was computed as -5; a system account reads `'@revenue`). Server-made
// ids, types, currencies and amounts go as they are (a negative amount is a number).
const FORMULA_START = /^[=+\-@\t\r]/;

function csvText(value: string | null): string {
  return csvField(value !== null && FORMULA_START.test(value) ? `'${value}` : value);
}

export function exportLine(row: ExportRow, format: ExportFormat): string {
  if (format === 'jsonl') return `${JSON.stringify(row)}\n`;
  const { references, metadata, ...fields } = row;
  const cells = [
    csvField(fields.transaction_id),
    csvField(fields.created_at),
    csvField(fields.type),
    csvText(fields.transaction_account_id),
    csvText(fields.account_id),
    csvField(fields.currency),
    csvField(fields.amount),
    csvField(fields.balance_after),
    ...REFERENCE_FIELDS.map((field) => csvText(references[field])),
    csvField(JSON.stringify(metadata)),
  ];
  return `${cells.join(',')}\r\n`;
}

type PageRow = Record<string, unknown> & { id: string; created_at: string };

/**
 * The ledger rows of a time range, a page of transactions at a time (keyset on created_at, id),
 * each with its entries: one line per entry, in (created_at, transaction, entry) order.
 */
const REFERENCE_COLUMNS = REFERENCE_FIELDS.map((field) => `t.${field}`).join(', ');

async function page(tx: SqlTx, range: TimeRange, after: { created_at: string; id: string }, limit: number): Promise<PageRow[]> {
  return tx.rows<PageRow>(
    `SELECT t.id, t.created_at, t.type, t.account_id AS transaction_account_id, e.currency, ${REFERENCE_COLUMNS},
       t.metadata, e.account_id, e.amount_minor AS entry_amount, e.balance_after_minor
     FROM (SELECT * FROM ledger_transactions
           WHERE created_at >= CAST(? AS TIMESTAMPTZ) AND created_at < CAST(? AS TIMESTAMPTZ)
             AND (created_at, id) > (CAST(? AS TIMESTAMPTZ), CAST(? AS UUID))
           ORDER BY created_at, id LIMIT ?) t
     JOIN ledger_entries e ON e.transaction_id = t.id
     ORDER BY t.created_at, t.id, e.amount_minor, e.account_id`,
    [range.from, range.to, after.created_at, after.id, limit],
  );
}

function toExportRow(row: PageRow): ExportRow {
  return {
    transaction_id: row.id,
    created_at: timestamp(row.created_at),
    type: row['type'] as string,
    transaction_account_id: row['transaction_account_id'] as string,
    account_id: row['account_id'] as string,
    currency: row['currency'] as string,
    amount: int8(row['entry_amount'] as string),
    balance_after: row['balance_after_minor'] === null ? null : int8(row['balance_after_minor'] as string),
    references: Object.fromEntries(
      REFERENCE_FIELDS.map((field) => [field, (row[field] as string | null) ?? null]),
    ) as ExportRow['references'],
    metadata: row['metadata'] as Metadata,
  };
}

class ExportAbandoned extends Error {}

/**
 * Streams every ledger entry of [from, to) as CSV or JSON lines (admin), over ONE consistent
 * snapshot (REPEATABLE READ READ ONLY), a page of EXPORT_PAGE_ROWS transactions at a time, each
 * page written only once the client has taken the previous one: memory stays flat however large
 * the range. Errors before the first byte are problem+json; later ones cut the stream (a client
 * sees a truncated body, never a wrong one).
 */
export async function exportTransactions(deps: AppDeps, actor: Actor, range: TimeRange, format: ExportFormat): Promise<Readable> {
  requireScope(actor, 'admin');
  const release = deps.exports.take();
  const stream = new PassThrough();
  let started: () => void = () => undefined;
  let streaming = false;
  const first_page = new Promise<void>((resolve) => (started = resolve));
  let attempts = 0;
  const run = deps.transactions.run(
    'export_transactions',
    async (tx) => {
      // A snapshot that has begun to stream is never run again: its lines would repeat.
      if (++attempts > 1) throw new ExportAbandoned('the export snapshot failed after it began to stream');
      // Idle while its client takes the lines, at the client's pace: not a transaction stalled by a
      // fault (DB_IDLE_IN_TRANSACTION_TIMEOUT_MS cut slow readers short), yet bounded.
      await tx.execute(`SET LOCAL idle_in_transaction_session_timeout = ${deps.config.wallet.export_client_wait_max_ms}`);
      let after = { created_at: range.from, id: '00000000-0000-0000-0000-000000000000' };
      const { export_page_rows, export_duration_max_ms } = deps.config.wallet;
      const ends_ms = Date.now() + export_duration_max_ms;
      for (let first = true; ; first = false) {
        if (Date.now() > ends_ms)
          throw new Error(`the export streamed for longer than EXPORT_DURATION_MAX_MS (${export_duration_max_ms} ms)`);
        const rows = await page(tx, range, after, export_page_rows);
        if (first) {
          if (format === 'csv') stream.write(`${CSV_COLUMNS.join(',')}\r\n`);
          streaming = true;
          started();
        }
        for (const row of rows) await write(stream, exportLine(toExportRow(row), format));
        const last = rows.at(-1);
        if (!last || new Set(rows.map((row) => row.id)).size < export_page_rows) break;
        after = { created_at: last.created_at, id: last.id };
      }
    },
    { read_only_snapshot: true },
  );
  run.then(
    () => stream.end(),
    (error: unknown) => {
      // Before the first page nobody reads the stream (the caller answers the error itself), and
      // an 'error' nobody listens to would take the process down.
      if (!streaming) {
        stream.destroy();
        return;
      }
      if (!(error instanceof ExportAbandoned)) deps.logger.warn({ err: error }, 'export cut short');
      stream.destroy(error instanceof Error ? error : new Error(String(error)));
    },
  );
  stream.once('close', release);
  try {
    await Promise.race([first_page, run]);
  } catch (error) {
    release();
    throw error;
  }
  return stream;
}

/** Writes a line, waiting while the client has not taken the previous ones; throws when the client is gone. */
async function write(stream: PassThrough, line: string): Promise<void> {
  if (stream.destroyed) throw new ExportAbandoned('the client left');
  if (stream.write(line)) return;
  const waiting = new AbortController();
  try {
    await Promise.race([once(stream, 'drain', { signal: waiting.signal }), once(stream, 'close', { signal: waiting.signal })]);
  } finally {
    waiting.abort();
  }
  if (stream.destroyed) throw new ExportAbandoned('the client left');
}
