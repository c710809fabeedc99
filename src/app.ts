import Koa from 'koa';
import type { Next } from 'koa';
import type { Logger } from 'pino';
import type { ApiContext } from './api/context.js';
import { serveBlob } from './api/blobs.js';
import { matchEndpoint, splitHostPrefix, validateEndpoint, type Endpoint } from './api/endpoints.js';
import { errorMiddleware } from './api/errors.js';
import { serveReadiness } from './api/health.js';
import { listCatalog, listTags } from './api/listings.js';
import { serveManifest } from './api/manifests.js';
import { serveMetrics } from './api/metrics.js';
import { serveStatus, serveStatusPage } from './api/status.js';
import type { ClientAuth } from './auth/client-auth.js';
import type { MirrorCache } from './cache/mirror.js';
import { RegistryError } from './oci/errors.js';
import { API_VERSION, H } from './oci/headers.js';
import type { LogLimiter } from './observability/log-limiter.js';
import type { Metrics } from './observability/metrics.js';
import type { Readiness } from './observability/readiness.js';
import { requestLog } from './observability/request-log.js';
import type { StatusReporter } from './status/report.js';

const READ_METHODS = new Set(['GET', 'HEAD']);
/** Probes carry no credentials; everything else (/metrics too) needs them when `auth` is configured. */
const OPEN_ENDPOINTS = new Set<Endpoint['kind']>(['healthz', 'readyz']);

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
 * The Koa app: request log → API version header → error rendering → endpoint match → parameter
 * validation → authentication → dispatch.
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
  app.use(async (ctx: ApiContext) => {
    // `GET http://host/… HTTP/1.1` is a proxy request: refused, never routed by its path.
    if (!ctx.url.startsWith('/')) throw new RegistryError('BAD_REQUEST', 'the request target must be a path: this is a registry mirror, not an HTTP proxy');
    const { host, path } = splitHostPrefix(ctx.path);
    const endpoint = matchEndpoint(host ? path : ctx.path);
    ctx.state.route = endpoint.kind;
    const ns = typeof ctx.query.ns === 'string' ? ctx.query.ns : undefined;
    ctx.state.ns = ns ?? host;
    if (endpoint.kind === 'upload' || !READ_METHODS.has(ctx.method)) {
      ctx.set('Allow', 'GET, HEAD');
      throw new RegistryError('UNSUPPORTED', 'this registry is a read-only pull-through mirror');
    }
    // Parameters, then authentication: both before any storage or upstream work.
    validateEndpoint(endpoint);
    if (deps.auth && !OPEN_ENDPOINTS.has(endpoint.kind)) ctx.state.user = (await deps.auth.authenticate(ctx.get(H.authorization) || undefined)).user;
    await dispatch(ctx, endpoint, mirror, deps);
  });
  return app;
}

/**
 * The app for `debugListen`: /metrics, /healthz and /readyz only, so Prometheus and probes can
 * use an address the registry clients cannot reach. Not request-logged: it is scraped constantly.
 */
export function createDebugApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.use(async (ctx: ApiContext) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      return;
    }
    if (ctx.path === '/metrics') return serveMetrics(ctx, deps.metrics);
    if (ctx.path === '/readyz') return serveReadiness(ctx, deps.readiness);
    if (ctx.path === '/healthz') ctx.body = { status: 'ok' };
  });
  return app;
}

async function dispatch(ctx: ApiContext, endpoint: Endpoint, mirror: MirrorCache, deps: AppDeps): Promise<void> {
  switch (endpoint.kind) {
    case 'base':
      ctx.body = {};
      return;
    case 'catalog':
      return listCatalog(ctx, mirror);
    case 'manifest': {
      const upstream = await serveManifest(ctx, mirror, endpoint.name, endpoint.reference);
      if (ctx.method === 'GET') deps.metrics.observeManifestPull(upstream, ctx.state.cache);
      return;
    }
    case 'blob':
      return serveBlob(ctx, mirror, endpoint.name, endpoint.digest);
    case 'tags':
      return listTags(ctx, mirror, endpoint.name);
    case 'healthz':
      ctx.body = { status: 'ok' };
      return;
    case 'readyz':
      return serveReadiness(ctx, deps.readiness);
    case 'metrics':
      return serveMetrics(ctx, deps.metrics);
    case 'status':
      return serveStatus(ctx, deps.status);
    case 'status-page':
      return serveStatusPage(ctx);
    case 'upload':
      throw new RegistryError('UNSUPPORTED', 'this registry is a read-only pull-through mirror');
  }
}
