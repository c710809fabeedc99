import type { Logger } from 'pino';
import { UpstreamError } from '../upstream/errors.js';
import type { Route } from '../upstream/routing.js';
import type { ManifestStore } from './manifest-store.js';
import { paginate } from './paginate.js';
import type { CacheStatus } from './status.js';

export interface TagPage {
  tags: string[];
  more: boolean;
  cache: CacheStatus;
}

/**
 * Tag lists pass through to the upstream, since tools like Renovate and Flux read them to find new
 * versions; when the upstream fails, the tags cached here are listed instead.
 */
export class PullThroughTags {
  constructor(
    private readonly local: ManifestStore,
    private readonly log: Logger,
  ) {}

  async listTags(route: Route, n: number | undefined, last: string | undefined): Promise<TagPage> {
    const { client } = route.upstream;
    // While the upstream is down, cached tags (if any) are listed without asking it.
    let cached = client.up ? undefined : await this.local.listTags(route.upstream.name, route.name);
    try {
      const remote = await client.listTags(route.name, n, last, cached !== undefined && cached.length > 0);
      return { ...remote, cache: 'upstream' };
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      cached ??= await this.local.listTags(route.upstream.name, route.name);
      if (cached.length === 0) throw err;
      if (!err.heldBack) this.log.warn({ upstream: route.upstream.name, repository: route.name, err: err.message }, 'upstream failed; listing cached tags');
      const page = paginate(cached, n, last);
      return { tags: page.items, more: page.more, cache: 'stale' };
    }
  }
}
