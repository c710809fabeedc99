import type { StorageDriver } from '../storage/driver.js';
import type { UpstreamRouter } from '../upstream/routing.js';
import { listRepositories } from './inventory.js';
import { paginate } from './paginate.js';

/**
 * What is cached, as repository names: `library/alpine` for the default upstream, and
 * `ghcr.io/org/app` for the others (the form clients use to reach them through the mirror).
 * Walks the repositories tree on each call; the tree holds names and links, not blobs.
 */
export class Catalog {
  constructor(
    private readonly storage: StorageDriver,
    private readonly router: UpstreamRouter,
  ) {}

  async list(n: number | undefined, last: string | undefined): Promise<{ items: string[]; more: boolean }> {
    const names = (await listRepositories(this.storage)).map(({ upstream, name }) => (upstream === this.router.default.name ? name : `${upstream}/${name}`));
    return paginate(names.sort(), n, last);
  }
}
