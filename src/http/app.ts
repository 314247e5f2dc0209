import Koa from 'koa';
import Router from '@koa/router';
import type { AppDeps } from '../platform/deps.js';
import type { AppState } from './app-context.js';
import { problemResponses, requestContext, requireHost } from './middleware.js';
import { mountRoutes } from './route.js';
import { allRoutes } from './routes/index.js';

/** The Koa application of one pod, without listening (tests and the pod process both use it). */
export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false });
  app.silent = true;
  const router = new Router<AppState>();
  const routes = allRoutes(deps.config, deps.topology);
  mountRoutes(router, routes);
  app.use(async (ctx, next) => {
    ctx.state.deps = deps;
    await next();
  });
  app.use(requestContext());
  app.use(problemResponses());
  app.use(requireHost());
  app.use(router.routes());
  // A path that exists without the method asked: 405 with Allow (problemResponses adds the problem+json).
  app.use(router.allowedMethods());
  return app;
}
