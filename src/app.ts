import Koa from 'koa';
import type { Next } from 'koa';
import type { Logger } from 'pino';
import type { ApiContext } from './api/context.js';
import { errorMiddleware } from './api/errors.js';
import { createRegistryRouter, debugRouter, registryRoutes } from './api/routes.js';
import type { ClientAuth } from './auth/client-auth.js';
import type { MirrorCache } from './cache/mirror.js';
import { RegistryError } from './oci/errors.js';
import { API_VERSION, H } from './oci/headers.js';
import type { LogLimiter } from './observability/log-limiter.js';
import type { Metrics } from './observability/metrics.js';
import type { Readiness } from './observability/readiness.js';
import { requestLog } from './observability/request-log.js';
import type { StatusReporter } from './status/report.js';

/** What the app needs besides the cache: where lines, numbers and health come from. */
export interface AppDeps {
  log: Logger;
  /** Rate-limits error lines (request lines ≥ 400, storage failures). */
  limiter: LogLimiter;
  metrics: Metrics;
  /** Runs the readiness checks (coalesced). */
  readiness: () => Promise<Readiness>;
  /** Client authentication; absent: the mirror is open (private networks). */
  auth?: ClientAuth;
  /** What GET / and /status.json show. */
  status: StatusReporter;
}

/**
 * The Koa app: request log → API version header → error rendering → the routes (`api/routes.ts`:
 * route name → parameter validation → authentication → handler).
 */
export function createApp(mirror: MirrorCache, deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are rendered and logged by errorMiddleware, not Koa's stderr printer
  app.use(requestLog(deps.log, deps.limiter, deps.metrics));
  app.use(async (ctx: ApiContext, next: Next) => {
    ctx.set(H.apiVersion, API_VERSION);
    await next();
  });
  app.use(errorMiddleware(deps.limiter));
  // `GET http://host/… HTTP/1.1` is a proxy request: refused, never routed by its path.
  app.use(async (ctx: ApiContext, next: Next) => {
    if (!ctx.url.startsWith('/')) throw new RegistryError('BAD_REQUEST', 'the request target must be a path: this is a registry mirror, not an HTTP proxy');
    await next();
  });
  for (const middleware of registryRoutes(createRegistryRouter(mirror, deps))) app.use(middleware);
  return app;
}

/**
 * The app for `debugListen`: /metrics, /healthz and /readyz only, so Prometheus and probes can
 * use an address the registry clients cannot reach. Not request-logged: it is scraped constantly.
 */
export function createDebugApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  for (const middleware of debugRouter(deps)) app.use(middleware);
  return app;
}
