import Joi from 'joi';
import { changeAccountStatus } from '../../compliance/change-account-status.js';
import {
  complianceActionViewSchema,
  getAccountLimits,
  listComplianceActions,
  listReviewFlags,
  resolveReviewFlag,
  reviewFlagViewSchema,
} from '../../compliance/compliance-reads.js';
import { limitsViewSchema } from '../../compliance/limits-view.js';
import { accountViewSchema } from '../../accounts/account-view.js';
import { LIMIT_NAMES } from '../../compliance/kyc-tiers.js';
import type { StatusAction } from '../../compliance/account-status.js';
import { setKycTier } from '../../compliance/set-kyc-tier.js';
import { setLimitOverrides } from '../../compliance/set-limit-overrides.js';
import type { Config } from '../../platform/config.js';
import { limitValueSchema } from '../../platform/wallet-config.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { accountIdSchema, pageQuery, pageSchema, playerAccountParams, textSchema, uuidParams } from './schemas.js';

const reason = textSchema(500);

function statusRoute(action: StatusAction, summary: string): RouteSpec {
  return defineRoute({
    operation_id: `${action}Account`,
    method: 'post',
    path: `/v1/accounts/{id}/${action}`,
    summary,
    tag: 'compliance',
    auth: 'bearer',
    idempotent: { success_status: 200 },
    params: playerAccountParams,
    body: action === 'freeze' ? Joi.object({ reason: reason.required() }) : Joi.object({ reason }),
    responses: {
      200: 'The account with its new status',
      400: 'Invalid request',
      401: 'Unauthenticated',
      403: 'Requires compliance:write',
      404: 'No such account',
      409: {
        description: action === 'close' ? 'Not at zero, something pending, or closed already' : 'Not in a status this applies to',
        codes: ['invalid_state', 'account_closed'],
      },
      422: 'Idempotency-Key reused',
      503: 'Retry with the same key',
    },
    response_schema: accountViewSchema,
    handler: async (ctx, { actor, params, body, idempotency }) =>
      changeAccountStatus(ctx.state.deps, actor, { account_id: params.id, action, ...body }, idempotency),
  });
}

export function complianceRoutes(config: Config): RouteSpec[] {
  const page = pageQuery(config.limits.page_size_max, config.limits.page_size_default);
  const limitChanges = Joi.object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, limitValueSchema(name).allow(null)]))).min(1);
  return [
    statusRoute('freeze', 'Freeze an account (compliance:write): money may come in, none may leave (409 account_frozen)'),
    statusRoute('unfreeze', 'Unfreeze a frozen account (compliance:write)'),
    statusRoute(
      'close',
      'Close an account (compliance:write): only at zero with nothing pending (409 invalid_state otherwise); ' +
        'then nothing changes it (409 account_closed) and it stays readable',
    ),
    defineRoute({
      operation_id: 'setKycTier',
      method: 'put',
      path: '/v1/accounts/{id}/kyc',
      summary: "Set an account's KYC tier (0 unverified, 1 basic, 2 full), with the reason (compliance:write); recorded",
      tag: 'compliance',
      auth: 'bearer',
      params: playerAccountParams,
      body: Joi.object({ tier: Joi.number().integer().strict().valid(0, 1, 2).required(), reason: reason.required() }),
      responses: {
        200: 'The account',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such account',
        409: { description: 'Closed', codes: ['account_closed'] },
      },
      response_schema: accountViewSchema,
      handler: async (ctx, { actor, params, body }) => ({
        status: 200,
        body: await setKycTier(ctx.state.deps, actor, { account_id: params.id, tier: body.tier, reason: body.reason }),
      }),
    }),
    defineRoute({
      operation_id: 'getAccountLimits',
      method: 'get',
      path: '/v1/accounts/{id}/limits',
      summary: "An account's effective KYC limits (tier or override) and what it used of them this UTC day and hour",
      tag: 'compliance',
      auth: 'bearer',
      params: playerAccountParams,
      responses: { 200: 'The limits', 400: 'Invalid request', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: limitsViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getAccountLimits(ctx.state.deps, actor, params.id) }),
    }),
    defineRoute({
      operation_id: 'setAccountLimits',
      method: 'put',
      path: '/v1/accounts/{id}/limits',
      summary:
        'Override limits of one account (compliance:write): {<limit name>: value} sets, {<limit name>: null} gives it back to the tier',
      tag: 'compliance',
      auth: 'bearer',
      params: playerAccountParams,
      body: limitChanges,
      responses: {
        200: 'The limits',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such account',
        409: { description: 'Closed', codes: ['account_closed'] },
      },
      response_schema: limitsViewSchema,
      handler: async (ctx, { actor, params, body }) => ({
        status: 200,
        body: await setLimitOverrides(ctx.state.deps, actor, { account_id: params.id, changes: body }),
      }),
    }),
    defineRoute({
      operation_id: 'listComplianceActions',
      method: 'get',
      path: '/v1/accounts/{id}/compliance-actions',
      summary: "Who changed the account's status, KYC tier or limits, when and why, newest first (compliance:write)",
      tag: 'compliance',
      auth: 'bearer',
      params: playerAccountParams,
      query: page,
      responses: { 200: 'A page of actions', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: pageSchema('ComplianceActionPage', complianceActionViewSchema),
      handler: async (ctx, { actor, params, query }) => ({
        status: 200,
        body: await listComplianceActions(ctx.state.deps, actor, params.id, query),
      }),
    }),
    defineRoute({
      operation_id: 'listReviewFlags',
      method: 'get',
      path: '/v1/admin/review-flags',
      summary: 'The AML review queue: refused velocity breaches, newest first (compliance:write or admin)',
      tag: 'compliance',
      auth: 'bearer',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default, {
        status: Joi.string().valid('open', 'resolved'),
        account_id: accountIdSchema,
      }),
      responses: { 200: 'A page of flags', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden' },
      response_schema: pageSchema('ReviewFlagPage', reviewFlagViewSchema),
      handler: async (ctx, { actor, query }) => ({ status: 200, body: await listReviewFlags(ctx.state.deps, actor, query) }),
    }),
    defineRoute({
      operation_id: 'resolveReviewFlag',
      method: 'put',
      path: '/v1/admin/review-flags/{id}/resolution',
      summary: 'Resolve an AML review flag with a note of what was found (compliance:write or admin)',
      tag: 'compliance',
      auth: 'bearer',
      params: uuidParams,
      body: Joi.object({ resolution: textSchema(1000).required() }),
      responses: { 200: 'The resolved flag', 400: 'Invalid request', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such flag' },
      response_schema: reviewFlagViewSchema,
      handler: async (ctx, { actor, params, body }) => ({
        status: 200,
        body: await resolveReviewFlag(ctx.state.deps, actor, params.id, body.resolution),
      }),
    }),
  ];
}
