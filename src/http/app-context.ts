import type { RouterContext } from '@koa/router';
import type { Actor } from '../auth/tokens.js';
import type { AppDeps } from '../platform/deps.js';

export interface AppState {
  request_id: string;
  started_at_ns: bigint;
  deps: AppDeps;
  actor?: Actor;
  raw_body?: string;
  body?: unknown;
}

export type AppContext = RouterContext<AppState>;
