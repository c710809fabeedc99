import type { Context } from 'koa';
import type { CacheStatus } from '../cache/status.js';
import type { MirrorCache } from '../cache/mirror.js';
import { validateName } from '../oci/reference.js';
import type { RequestNotes } from '../observability/request-context.js';
import type { Route } from '../upstream/routing.js';

/** What the request log and metrics read back from a handled request. */
export interface RequestState extends RequestNotes {
  cache?: CacheStatus;
  /** Upstream named by `?ns=` or a `/<host>/v2/` prefix. */
  ns?: string;
  /** Endpoint family (`manifest`, `blob`, …): a metrics label, never the raw path. */
  route?: string;
  /** Who authenticated (htpasswd user or `token:<hash prefix>`), when client auth is on. */
  user?: string;
  /**
   * The OCI error code and message the client was sent, if any; for a body cut short by the mirror
   * (a blob fetch that failed mid-stream), what cut it.
   */
  error?: { code: string; message: string };
  /** Body bytes handed to the connection, for streamed bodies (blobs). */
  bytesSent?: number;
}

export type ApiContext = Context & { state: RequestState };

/** Validates the name, then picks its upstream: parameters are checked before anything runs. */
export function routeFor(ctx: ApiContext, mirror: MirrorCache, name: string): Route {
  return mirror.router.route(validateName(name), ctx.state.ns);
}
