import { requireAccountRead } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { SqlTx } from '../db/sql.js';
import { notFound } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';

/**
 * Reads a page of an account's money objects (holds, top-ups, purchase requests) over one
 * snapshot, so that each object and what is listed with it agree. For its owner, or a service
 * reading money; an account that does not exist is 404, never an empty page.
 */
export async function readAccountPage<T>(
  deps: AppDeps,
  actor: Actor,
  account_id: string,
  name: string,
  read: (tx: SqlTx) => Promise<T>,
): Promise<T> {
  requireAccountRead(actor, account_id, 'money');
  return deps.transactions.run(
    name,
    async (tx) => {
      if (!(await tx.maybeOne('SELECT id FROM accounts WHERE id = ?', [account_id]))) throw notFound(`account ${account_id}`);
      return read(tx);
    },
    { read_only_snapshot: true },
  );
}
