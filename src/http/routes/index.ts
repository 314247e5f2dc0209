import type { Config } from '../../platform/config.js';
import type { Topology } from '../../platform/regions.js';
import { buildOpenApi } from '../openapi.js';
import type { RouteSpec } from '../route.js';
import { accountRoutes } from './accounts.js';
import { adminRoutes } from './admin.js';
import { complianceRoutes } from './compliance.js';
import { merchantRoutes } from './merchants.js';
import { withdrawalRoutes } from './withdrawals.js';
import { statementRoutes } from './statements.js';
import { consoleRoutes } from './console.js';
import { docsRoutes } from './docs.js';
import { eventRoutes } from './events.js';
import { ledgerRoutes } from './ledger.js';
import { shopRoutes } from './shop.js';
import { topupRoutes } from './topups.js';
import { operationRoutes } from './operations.js';
import { sellerRoutes } from './sellers.js';

/** Every route of the API; the router and /openapi.json are both built from this list. */
export function allRoutes(config: Config, topology: Topology): RouteSpec[] {
  const api: RouteSpec[] = [
    ...accountRoutes(config, topology),
    ...ledgerRoutes(config),
    ...shopRoutes(config),
    ...topupRoutes(config),
    ...sellerRoutes(config),
    ...eventRoutes(config),
    ...adminRoutes(),
    ...complianceRoutes(config),
    ...merchantRoutes(config),
    ...withdrawalRoutes(config),
    ...statementRoutes(config),
  ];
  let document: unknown;
  const openapi = (): unknown => (document ??= buildOpenApi(routes));
  const routes: RouteSpec[] = [...operationRoutes(openapi), ...docsRoutes(), ...consoleRoutes(), ...api];
  return routes;
}
