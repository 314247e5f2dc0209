import { requireAccountRead, requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { requireAccountExists } from '../accounts/account-repository.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { notFound } from '../domain/errors.js';
import { toAccountRecord, toWalletRecord } from '../ledger/ledger-records.js';
import type { AppDeps } from '../platform/deps.js';
import { actorName } from './compliance-actions.js';
import { toComplianceActionRecord, toReviewFlagRecord, type ComplianceActionRecord, type ReviewFlagRecord } from './compliance-records.js';
import { limitsView, type LimitsView } from './limits-view.js';
import Joi from 'joi';
import { idSchema, minorSchema, timestampSchema, viewSchema, type ViewKeys } from '../platform/view-schema.js';

/** The effective limits of an account and what it used of them today and this hour (its owner, or a service reading accounts). */
export async function getAccountLimits(deps: AppDeps, actor: Actor, account_id: string): Promise<LimitsView> {
  requireAccountRead(actor, account_id, 'account');
  return deps.transactions.read(async (tx) => {
    const row = await tx.maybeOne<Record<string, unknown>>("SELECT * FROM accounts WHERE id = ? AND kind <> 'system'", [account_id]);
    if (!row) throw notFound(`account ${account_id}`);
    const wallets = await tx.rows<Record<string, unknown>>('SELECT * FROM wallets WHERE account_id = ?', [account_id]);
    return limitsView(toAccountRecord(row), wallets.map(toWalletRecord), deps.config.limits.kyc, Date.now());
  });
}

export function complianceActionView(action: ComplianceActionRecord) {
  return {
    id: action.id,
    account_id: action.account_id,
    action: action.action,
    actor: action.actor,
    reason: action.reason,
    details: action.details,
    created_at: action.created_at,
  };
}

export const complianceActionViewSchema = viewSchema('ComplianceAction', {
  id: idSchema,
  account_id: Joi.string(),
  action: Joi.string().valid('freeze', 'unfreeze', 'close', 'kyc_tier', 'limits'),
  actor: Joi.string().description('service:<id> or player:<id> of the token that asked'),
  reason: Joi.string().allow(null),
  details: Joi.object().unknown(true).description('What changed: {from, to}, or the limits set and cleared'),
  created_at: timestampSchema,
} satisfies ViewKeys<ReturnType<typeof complianceActionView>>);

/** Who changed an account's status, tier or limits, newest first (compliance:write). */
export async function listComplianceActions(deps: AppDeps, actor: Actor, account_id: string, page: { limit: number; cursor?: string }) {
  requireScope(actor, 'compliance:write');
  const before = decodeCursor(page.cursor, ['number'])?.[0];
  const rows = await deps.transactions.read(async (tx) => {
    await requireAccountExists(tx, account_id);
    return tx.rows<Record<string, unknown>>(
      `SELECT * FROM compliance_actions WHERE account_id = ? ${before === undefined ? '' : 'AND account_seq < ?'}
       ORDER BY account_seq DESC LIMIT ?`,
      [account_id, ...(before === undefined ? [] : [before]), page.limit + 1],
    );
  });
  const actions = rows.map(toComplianceActionRecord);
  const last = actions.length > page.limit ? actions[page.limit - 1] : undefined;
  return { data: actions.slice(0, page.limit).map(complianceActionView), next_cursor: last ? encodeCursor([last.account_seq]) : null };
}

export function reviewFlagView(flag: ReviewFlagRecord) {
  return {
    id: flag.id,
    account_id: flag.account_id,
    currency: flag.currency,
    limit: flag.limit_name,
    limit_value: flag.limit_value,
    used: flag.used,
    attempted: flag.attempted,
    operation: flag.operation,
    window_start: flag.window_start,
    status: flag.status,
    resolution: flag.resolution,
    resolved_by: flag.resolved_by,
    resolved_at: flag.resolved_at,
    created_at: flag.created_at,
  };
}

export const reviewFlagViewSchema = viewSchema('ReviewFlag', {
  id: idSchema,
  account_id: Joi.string(),
  currency: Joi.string(),
  limit: Joi.string().description('The velocity limit that refused an operation'),
  limit_value: minorSchema,
  used: minorSchema.description('Used in the window before the refused operation'),
  attempted: minorSchema.description('What the refused operation asked for'),
  operation: Joi.string().description("The refused operation's transaction type"),
  window_start: timestampSchema,
  status: Joi.string().valid('open', 'resolved'),
  resolution: Joi.string().allow(null),
  resolved_by: Joi.string().allow(null),
  resolved_at: timestampSchema.allow(null),
  created_at: timestampSchema,
} satisfies ViewKeys<ReturnType<typeof reviewFlagView>>);

/** The AML review queue: refused velocity breaches, newest first (compliance:write or admin). */
export async function listReviewFlags(
  deps: AppDeps,
  actor: Actor,
  query: { limit: number; cursor?: string; status?: 'open' | 'resolved'; account_id?: string },
) {
  requireScope(actor, 'compliance:write');
  const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
  const conditions: string[] = [];
  const params: Array<string | number> = [];
  if (after) {
    conditions.push('(created_at, id) < (?::timestamptz, ?::uuid)');
    params.push(...(after as string[]));
  }
  if (query.status) {
    conditions.push('status = ?');
    params.push(query.status);
  }
  if (query.account_id) {
    conditions.push('account_id = ?');
    params.push(query.account_id);
  }
  const rows = await deps.transactions.read((tx) =>
    tx.rows<Record<string, unknown>>(
      `SELECT * FROM review_flags ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...params, query.limit + 1],
    ),
  );
  const page = rows.slice(0, query.limit);
  const last = rows.length > query.limit ? page[page.length - 1] : undefined;
  return {
    data: page.map((row) => reviewFlagView(toReviewFlagRecord(row))),
    next_cursor: last ? encodeCursor([String(last['created_at']), last['id'] as string]) : null,
  };
}

/** A person has looked into a flag: the note says what was found. Resolving again replaces the note and keeps the first time. */
export async function resolveReviewFlag(deps: AppDeps, actor: Actor, flag_id: string, resolution: string) {
  requireScope(actor, 'compliance:write');
  const row = await deps.transactions.run('resolve_review_flag', (tx) =>
    tx.maybeOne<Record<string, unknown>>(
      `UPDATE review_flags SET status = 'resolved', resolution = ?, resolved_by = ?, resolved_at = COALESCE(resolved_at, now())
       WHERE id = ? RETURNING *`,
      [resolution, actorName(actor), flag_id],
    ),
  );
  if (!row) throw notFound(`review flag ${flag_id}`);
  return reviewFlagView(toReviewFlagRecord(row));
}
