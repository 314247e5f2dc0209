import type { RouterContext } from '@koa/router';
import type { Actor } from '../auth/tokens.js';
import type { AppDeps } from '../platform/deps.js';
import type { SignedBody } from '../shop/topups/psp-signature.js';

export interface AppState {
  request_id: string;
  started_at_ns: bigint;
  deps: AppDeps;
  actor?: Actor;
  /** The body exactly as received, for the routes that check a signature over it. */
  signed_body?: SignedBody;
  body?: unknown;
}

export type AppContext = RouterContext<AppState>;
