import Koa from 'koa';
import type { Next } from 'koa';
import type { Logger } from 'pino';
import type { ApiContext } from './api/context.js';
import { serveBlob } from './api/blobs.js';
import { matchEndpoint, splitHostPrefix, type Endpoint } from './api/endpoints.js';
import { errorMiddleware } from './api/errors.js';
import { serveReadiness } from './api/health.js';
import { listCatalog, listTags } from './api/listings.js';
import { serveManifest } from './api/manifests.js';
import type { MirrorCache } from './cache/mirror.js';
import { RegistryError } from './oci/errors.js';
import { API_VERSION, H } from './oci/headers.js';
import { requestLog } from './observability/request-log.js';

const READ_METHODS = new Set(['GET', 'HEAD']);

/** The Koa app: request log → API version header → error rendering → endpoint dispatch. */
export function createApp(mirror: MirrorCache, log: Logger): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are rendered and logged by errorMiddleware, not Koa's stderr printer
  app.use(requestLog(log));
  app.use(async (ctx: ApiContext, next: Next) => {
    ctx.set(H.apiVersion, API_VERSION);
    await next();
  });
  app.use(errorMiddleware(log));
  app.use(async (ctx: ApiContext) => {
    const { host, path } = splitHostPrefix(ctx.path);
    const endpoint = matchEndpoint(host ? path : ctx.path);
    const ns = typeof ctx.query.ns === 'string' ? ctx.query.ns : undefined;
    ctx.state.ns = ns ?? host;
    if (endpoint.kind === 'upload' || !READ_METHODS.has(ctx.method)) {
      ctx.set('Allow', 'GET, HEAD');
      throw new RegistryError('UNSUPPORTED', 'this registry is a read-only pull-through mirror');
    }
    await dispatch(ctx, endpoint, mirror);
  });
  return app;
}

async function dispatch(ctx: ApiContext, endpoint: Endpoint, mirror: MirrorCache): Promise<void> {
  switch (endpoint.kind) {
    case 'base':
      ctx.body = {};
      return;
    case 'catalog':
      return listCatalog(ctx, mirror);
    case 'manifest':
      return serveManifest(ctx, mirror, endpoint.name, endpoint.reference);
    case 'blob':
      return serveBlob(ctx, mirror, endpoint.name, endpoint.digest);
    case 'tags':
      return listTags(ctx, mirror, endpoint.name);
    case 'healthz':
      ctx.body = { status: 'ok' };
      return;
    case 'readyz':
      return serveReadiness(ctx, mirror);
    case 'upload':
      throw new RegistryError('UNSUPPORTED', 'this registry is a read-only pull-through mirror');
  }
}
