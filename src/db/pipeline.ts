import pg from 'pg';
import utils from 'pg/lib/utils.js';

/** One statement of a pipeline: a named prepared statement (parsed once per connection) with its values. */
export interface PipelinedStatement {
  name: string;
  text: string;
  values: readonly unknown[];
}

/** A statement of a pipeline failed; the ones before it ran, the ones after it were skipped by the server. */
export class PipelineError extends Error {
  constructor(
    override readonly cause: unknown,
    /** Index of the failed statement in the pipeline. */
    readonly statement_index: number,
  ) {
    super((cause as Error | null)?.message ?? String(cause));
    this.name = 'PipelineError';
  }

  /** The SQLSTATE of the failure, as code (like a pg error), so retry and availability checks read it the same way. */
  get code(): string | undefined {
    const code = (this.cause as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
  }
}

/** What node-postgres's Connection offers a submittable (its documented extension point, as pg-cursor uses). */
interface Connection {
  parsedStatements: Record<string, string>;
  stream: { cork?: () => void; uncork?: () => void };
  on(event: 'parseComplete', listener: () => void): void;
  removeListener(event: 'parseComplete', listener: () => void): void;
  parse(message: { text: string; name: string; types: unknown[] }): void;
  bind(message: { portal: string; statement: string; values: readonly unknown[]; valueMapper: unknown }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: { portal: string; rows: number }): void;
  sync(): void;
  sendCopyFail(message: string): void;
}

type Message = { fields: unknown[] };
type ResultInternals = pg.QueryResult & {
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): unknown;
  addRow(row: unknown): void;
  addCommandComplete(message: unknown): void;
};

/**
 * Several statements sent to the server in ONE round trip: every Parse/Bind/Execute, then one Sync
 * (the extended query protocol's pipelining, which PostgreSQL and CockroachDB both accept). The
 * server runs them in order and stops at the first error, skipping the rest up to the Sync; on one
 * connection inside an explicit transaction this is how a whole batch reads (BEGIN and its reads)
 * and writes (its statements and COMMIT) in two round trips. node-postgres sends one statement per
 * round trip; this is a `Submittable`, the client's documented extension point.
 */
class Pipeline {
  /** node-postgres sets `_types` on this placeholder: the client's type parsers, used for every result. */
  readonly _result = { _types: undefined as unknown };
  callback: ((error: Error | null, results?: pg.QueryResult[]) => void) | undefined;
  private readonly results: ResultInternals[] = [];
  private index = 0;
  private readonly parsing: PipelinedStatement[] = [];
  private parsed = 0;
  private connection: Connection | undefined;

  constructor(private readonly statements: readonly PipelinedStatement[]) {}

  /** Each ParseComplete confirms the next statement this pipeline asked the server to prepare. */
  private readonly onParseComplete = () => {
    const statement = this.parsing[this.parsed++];
    if (statement && this.connection) this.connection.parsedStatements[statement.name] = statement.text;
  };

  submit(connection: Connection): null {
    this.connection = connection;
    const Result = pg.Result as unknown as new (row_mode: undefined, types: unknown) => ResultInternals;
    for (const _ of this.statements) this.results.push(new Result(undefined, this._result._types));
    connection.on('parseComplete', this.onParseComplete);
    connection.stream.cork?.();
    try {
      for (const statement of this.statements) {
        if (connection.parsedStatements[statement.name] === undefined) {
          this.parsing.push(statement);
          connection.parse({ text: statement.text, name: statement.name, types: [] });
        }
        connection.bind({ portal: '', statement: statement.name, values: statement.values, valueMapper: utils.prepareValue });
        connection.describe({ type: 'P', name: '' });
        connection.execute({ portal: '', rows: 0 });
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(message: Message): void {
    this.results[this.index]?.addFields(message.fields);
  }

  handleDataRow(message: Message): void {
    const result = this.results[this.index];
    result?.addRow(result.parseRow(message.fields));
  }

  handleCommandComplete(message: unknown): void {
    this.results[this.index]?.addCommandComplete(message);
    this.index += 1;
  }

  handleEmptyQuery(): void {
    this.index += 1;
  }

  handlePortalSuspended(): void {
    // Every Execute asks for all rows: a portal is never suspended.
  }

  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail('COPY is not supported in a pipeline');
  }

  handleCopyData(): void {
    // Never asked for.
  }

  handleError(error: Error): void {
    this.finish();
    this.callback?.(new PipelineError(error, this.index));
  }

  handleReadyForQuery(): void {
    this.finish();
    this.callback?.(null, this.results);
  }

  private finish(): void {
    this.connection?.removeListener('parseComplete', this.onParseComplete);
  }
}

/**
 * Runs `statements` in one round trip on `client` and resolves with one result per statement.
 * Rejects with a PipelineError naming the first statement that failed. Inside an explicit
 * transaction a failure leaves it aborted (or ended, when COMMIT itself failed): the caller rolls back.
 */
export function runPipeline(client: pg.ClientBase, statements: readonly PipelinedStatement[]): Promise<pg.QueryResult[]> {
  if (statements.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const pipeline = new Pipeline(statements);
    pipeline.callback = (error, results) => (error ? reject(error) : resolve(results ?? []));
    client.query(pipeline as unknown as pg.QueryConfig);
  });
}

/** Forgets the statements prepared on `client`, on the server and here: the next pipelines prepare them again. */
export async function forgetPreparedStatements(client: pg.ClientBase): Promise<void> {
  await client.query('DEALLOCATE ALL');
  const { parsedStatements } = (client as unknown as { connection: Connection }).connection;
  for (const name of Object.keys(parsedStatements)) delete parsedStatements[name];
}
