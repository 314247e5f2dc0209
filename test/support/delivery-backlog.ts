import pg from 'pg';
import { inject } from 'vitest';
import { PreparedStatements, SqlTx } from '../../src/db/sql.js';
import { createScratchDatabase } from './scratch-database.js';

/** A migrated database of a test file's own, with one session on it through which its statements run as the pods' do. */
export interface BacklogDatabase {
  url: string;
  client: pg.Client;
  tx: SqlTx;
  close(): Promise<void>;
}

export async function openBacklogDatabase(prefix: string): Promise<BacklogDatabase> {
  const scratch = await createScratchDatabase(inject('database_url'), prefix);
  const client = new pg.Client({ connectionString: scratch.url });
  await client.connect();
  return {
    url: scratch.url,
    client,
    tx: new SqlTx(client, new PreparedStatements()),
    close: async () => {
      await client.end();
      await scratch.drop();
    },
  };
}

/**
 * `count` deliveries of one endpoint, written at once: row g (0 ≤ g < count) has the account and
 * account_seq of the SQL expressions `accounts` and `seq` of g, and is due `due` from now.
 */
export async function insertDeliveries(
  client: pg.Client,
  rows: {
    endpoint_id: string;
    accounts: string;
    seq: string;
    state: 'pending' | 'delivered';
    attempts: number;
    due: string;
    count: number;
  },
): Promise<void> {
  await client.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, account_id, account_seq, manual, state, attempts,
       next_attempt_at, event_created_at, crdb_region, created_at)
     SELECT gen_random_uuid(), $1::uuid, gen_random_uuid(), 'transaction.posted', ${rows.accounts}, ${rows.seq},
       false, $2::text, $3::int, now() + CAST($4 AS INTERVAL), now(), 'eu-west', now()
     FROM generate_series(0, $5::int - 1) AS g`,
    [rows.endpoint_id, rows.state, rows.attempts, rows.due, rows.count],
  );
}
