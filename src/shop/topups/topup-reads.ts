import Joi from 'joi';
import { readAccountPage } from '../../accounts/account-pages.js';
import { isVisibleTo, requireReadScope, requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { newestFirstPage } from '../../db/keyset-page.js';
import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { listHeldEvents, listTopupEvents } from './psp-event-repository.js';
import { findTopup, pspEventReviewSchema, TOPUP_COLUMNS, toTopup, topupView, reviewView, type TopupRow } from './topup-repository.js';

/** A top-up with the PSP events recorded against it, read over one snapshot so that both agree. */
export async function getTopup(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const found = await deps.transactions.run(
    'get_topup',
    async (tx) => {
      const topup = await findTopup(tx, id);
      return topup && { topup, events: (await listTopupEvents(tx, [id], deps.config.limits.page_size_max)).get(id)! };
    },
    { read_only_snapshot: true },
  );
  if (!found || !isVisibleTo(actor, found.topup.account_id)) throw notFound(`top-up ${id}`);
  return topupView(found.topup, found.events);
}

/** An account's top-ups, newest first, each with its events as GET /v1/topups/{id} shows them. */
export async function accountTopups(deps: AppDeps, actor: Actor, account_id: string, page: { limit: number; cursor?: string }) {
  return readAccountPage(deps, actor, account_id, 'list_topups', async (tx) => {
    const { rows, next_cursor } = await newestFirstPage<TopupRow>(
      tx,
      {
        columns: TOPUP_COLUMNS,
        table: 'topups',
        condition: 'account_id = ?',
        params: [account_id],
        time_column: 'created_at',
        id_type: 'uuid',
      },
      page,
    );
    const topups = rows.map(toTopup);
    const events = await listTopupEvents(
      tx,
      topups.map((topup) => topup.id),
      deps.config.limits.page_size_max,
    );
    return { data: topups.map((topup) => topupView(topup, events.get(topup.id)!)), next_cursor };
  });
}

/** PSP events held for review and not settled yet, newest first, with the top-up each names (admin). */
export async function heldPspEvents(deps: AppDeps, actor: Actor, page: { limit: number; cursor?: string }) {
  requireScope(actor, 'admin');
  const { rows, next_cursor } = await deps.transactions.read((tx) => listHeldEvents(tx, page));
  return { data: rows.map((event) => ({ ...reviewView(event), topup_id: event.topup_id })), next_cursor };
}

export const heldPspEventSchema = pspEventReviewSchema
  .keys({
    topup_id: Joi.string()
      .guid()
      .allow(null)
      .description('The top-up the event names (none exists for unknown_topup); null when it names none'),
  })
  .id('HeldPspEvent');
