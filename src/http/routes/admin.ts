import { requireScope } from '../../auth/access.js';
import { reconciliationReportSchema } from '../../reconciliation/reconcile.js';
import { runReconciliation } from '../../reconciliation/run-reconciliation.js';
import { defineRoute, type RouteSpec } from '../route.js';

export function adminRoutes(): RouteSpec[] {
  return [
    defineRoute({
      operation_id: 'reconcile',
      method: 'post',
      path: '/v1/admin/reconcile',
      summary: 'Verify the ledger invariants over the whole database (admin)',
      tag: 'admin',
      auth: 'bearer',
      responses: { 200: '{ ok, mismatches }', 401: 'Unauthenticated', 403: 'Forbidden' },
      response_schema: reconciliationReportSchema,
      handler: async (ctx, { actor }) => {
        requireScope(actor, 'admin');
        return { status: 200, body: await runReconciliation(ctx.state.deps, 'admin') };
      },
    }),
  ];
}
