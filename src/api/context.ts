import type { Context } from 'koa';
import type { CacheStatus } from '../cache/status.js';
import type { MirrorCache } from '../cache/mirror.js';
import { validateName } from '../oci/reference.js';
import type { Route } from '../upstream/routing.js';

/** What the request log and metrics read back from a handled request. */
export interface RequestState {
  cache?: CacheStatus;
  /** Upstream named by `?ns=` or a `/<host>/v2/` prefix. */
  ns?: string;
}

export type ApiContext = Context & { state: RequestState };

/** Validates the name, then picks its upstream: parameters are checked before anything runs. */
export function routeFor(ctx: ApiContext, mirror: MirrorCache, name: string): Route {
  return mirror.router.route(validateName(name), ctx.state.ns);
}
