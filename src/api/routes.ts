import Router, { type RouterContext, type RouterMiddleware } from '@koa/router';
import type { Middleware } from 'koa';
import { match } from 'path-to-regexp';
import type { ClientAuth } from '../auth/client-auth.js';
import type { MirrorCache } from '../cache/mirror.js';
import { parseDigest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import { parseReference, validateName } from '../oci/reference.js';
import type { Metrics } from '../observability/metrics.js';
import type { Readiness } from '../observability/readiness.js';
import type { StatusReporter } from '../status/report.js';
import { serveBlob } from './blobs.js';
import type { RequestState } from './context.js';
import { serveReadiness } from './health.js';
import { listCatalog, listTags } from './listings.js';
import { serveManifest } from './manifests.js';
import { serveReferrers } from './referrers.js';
import { serveMetrics } from './metrics.js';
import { serveStatus, serveStatusPage } from './status.js';

/** Endpoint families: the `route` label of metrics and request lines, never the raw path. */
export type RouteName =
  'base' | 'catalog' | 'manifest' | 'blob' | 'tags' | 'referrers' | 'upload' | 'healthz' | 'readyz' | 'metrics' | 'status-page' | 'status';

/** What the routes need besides the cache. */
export interface RouteDeps {
  metrics: Metrics;
  readiness: () => Promise<Readiness>;
  auth?: ClientAuth;
  status: StatusReporter;
}

type RouteContext = RouterContext<RequestState>;
type Handler = (ctx: RouteContext) => Promise<void> | void;
type Step = RouterMiddleware<RequestState>;

const READ_ONLY = () => new RegistryError('UNSUPPORTED', 'this registry is a read-only pull-through mirror', { Allow: 'GET, HEAD' });

/**
 * The registry's routes. Names have several components (`*name`), a reference never contains '/'.
 * Every `/v2` route is declared twice, as itself and after an upstream host (`/<host>/v2/…`, which
 * containerd host paths and docker ≥ 25 mirror URLs send); a route declared earlier wins, so
 * `/v2/v2/app/…` is the repository `v2/app`, not a host named v2. Each route names itself, checks
 * its parameters against the OCI grammar, then authenticates: a malformed request is refused
 * before credentials are checked and before anything touches storage or an upstream.
 */
export function createRegistryRouter(mirror: MirrorCache, deps: RouteDeps): Router<RequestState> {
  // Paths are matched as the spec writes them: `/V2/…` and a trailing slash (but on `/v2/`) are no route.
  const router = new Router<RequestState>({ sensitive: true, strict: true });
  const authenticate: Handler = async (ctx) => {
    if (deps.auth) ctx.state.user = (await deps.auth.authenticate(ctx.get(H.authorization) || undefined)).user;
  };
  const read = (name: RouteName, path: string, handler: Handler, checks: Handler[] = [authenticate]) => {
    router.get(name, path, named(name), validParameters(path), ...checks.map(thenNext), handler);
  };
  const registry = (name: RouteName, path: string, handler: Handler) => {
    read(name, path, handler);
    read(name, `/:host${path}`, handler);
  };

  // Uploads first: `/v2/<name>/blobs/uploads` would otherwise be the blob `uploads`.
  for (const path of ['/v2/*repository/blobs/uploads{/{*rest}}', '/:host/v2/*repository/blobs/uploads{/{*rest}}']) {
    router.all('upload', path, named('upload'), () => {
      throw READ_ONLY();
    });
  }
  registry('base', '/v2{/}', (ctx) => {
    ctx.body = {};
  });
  registry('catalog', '/v2/_catalog', (ctx) => listCatalog(ctx, mirror));
  registry('manifest', '/v2/*name/manifests/:reference', async (ctx) => {
    const upstream = await serveManifest(ctx, mirror, ctx.params.name!, ctx.params.reference!);
    if (ctx.method === 'GET') deps.metrics.observeManifestPull(upstream, ctx.state.cache);
  });
  registry('blob', '/v2/*name/blobs/:digest', (ctx) => serveBlob(ctx, mirror, ctx.params.name!, ctx.params.digest!));
  registry('tags', '/v2/*name/tags/list', (ctx) => listTags(ctx, mirror, ctx.params.name!));
  registry('referrers', '/v2/*name/referrers/:digest', (ctx) => serveReferrers(ctx, mirror, ctx.params.name!, ctx.params.digest!));
  // Probes carry no credentials; everything else (/metrics too) needs them when `auth` is configured.
  read('healthz', '/healthz', serveLiveness, []);
  read('readyz', '/readyz', (ctx) => serveReadiness(ctx, deps.readiness), []);
  read('metrics', '/metrics', (ctx) => serveMetrics(ctx, deps.metrics));
  read('status-page', '/', serveStatusPage);
  read('status', '/status.json', (ctx) => serveStatus(ctx, deps.status));
  return router;
}

/** The router's middleware: its routes, 405 for writes to a known path, 404 for the rest. */
export function registryRoutes(router: Router<RequestState>): Middleware[] {
  return [
    router.routes(),
    router.allowedMethods({ throw: true, methodNotAllowed: READ_ONLY, notImplemented: READ_ONLY }),
    (ctx: RouteContext) => {
      // Reached only when no route took the request; a known path with a write method is answered by allowedMethods.
      if (!ctx.matched?.length) throw new RegistryError('NOT_FOUND', 'no such endpoint');
    },
  ] as Middleware[];
}

/** The debug listener's routes: probes and metrics, open, for an address registry clients cannot reach. */
export function debugRouter(deps: RouteDeps): Middleware[] {
  const router = new Router<RequestState>();
  router.get('/healthz', serveLiveness);
  router.get('/readyz', (ctx) => serveReadiness(ctx, deps.readiness));
  router.get('/metrics', (ctx) => serveMetrics(ctx, deps.metrics));
  return [router.routes(), router.allowedMethods()] as Middleware[];
}

function serveLiveness(ctx: RouteContext): void {
  ctx.body = { status: 'ok' };
}

function named(name: RouteName): Step {
  return thenNext((ctx) => {
    ctx.state.route = name;
    // `?ns=` names the upstream; a host before `/v2` does the same.
    const ns = typeof ctx.query.ns === 'string' ? ctx.query.ns : undefined;
    ctx.state.ns = ns ?? ctx.params.host;
  });
}

/**
 * Checks the route's parameters as sent, not as the router decodes them: no name, tag or digest has
 * a character that needs a percent-escape, so `org%2Fapp` is an invalid name, never `org/app`.
 */
function validParameters(path: string): Step {
  const asSent = match<Record<string, string | string[]>>(path, { decode: false, sensitive: true, trailing: false });
  return thenNext((ctx) => {
    const found = asSent(ctx.path);
    if (!found) return;
    const { name, reference, digest } = found.params;
    if (name !== undefined) validateName(typeof name === 'string' ? name : name.join('/'));
    if (typeof reference === 'string') parseReference(reference);
    if (typeof digest === 'string') parseDigest(digest);
  });
}

function thenNext(step: Handler): Step {
  return async (ctx, next) => {
    await step(ctx);
    await next();
  };
}
