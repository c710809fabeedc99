import type { MirrorCache } from '../cache/mirror.js';
import { H } from '../oci/headers.js';
import { routeFor, type ApiContext } from './context.js';
import { nextLink, parsePageQuery } from './pagination.js';

/** GET /v2/<name>/tags/list: from the upstream, or the cached tags when it fails. */
export async function listTags(ctx: ApiContext, mirror: MirrorCache, name: string): Promise<void> {
  const route = routeFor(ctx, mirror, name);
  const { n, last } = parsePageQuery(ctx.query);
  const page = await mirror.tags.listTags(route, n, last);
  ctx.state.cache = page.cache;
  const lastTag = page.tags.at(-1);
  if (page.more && lastTag !== undefined) ctx.set(H.link, nextLink(ctx.path, ctx.query, n, lastTag));
  ctx.body = { name, tags: page.tags };
}

/** GET /v2/_catalog: the repositories cached here. */
export async function listCatalog(ctx: ApiContext, mirror: MirrorCache): Promise<void> {
  const { n, last } = parsePageQuery(ctx.query);
  const page = await mirror.catalog.list(n, last);
  const lastName = page.items.at(-1);
  if (page.more && lastName !== undefined) ctx.set(H.link, nextLink(ctx.path, ctx.query, n, lastName));
  ctx.body = { repositories: page.items };
}
