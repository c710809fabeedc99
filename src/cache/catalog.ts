import type { StorageDriver } from '../storage/driver.js';
import { MANIFESTS_DIR, REPOSITORIES_ROOT, TAGS_DIR, paths } from '../storage/paths.js';
import type { UpstreamRouter } from '../upstream/routing.js';
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
    const names: string[] = [];
    for (const upstream of await this.storage.list(REPOSITORIES_ROOT)) {
      const prefix = upstream === this.router.default.name ? '' : `${upstream}/`;
      for (const name of await this.walk(paths.upstreamRoot(upstream), '')) names.push(prefix + name);
    }
    return paginate(names.sort(), n, last);
  }

  private async walk(key: string, name: string): Promise<string[]> {
    const children = await this.storage.list(key);
    const found = children.includes(MANIFESTS_DIR) || children.includes(TAGS_DIR) ? [name] : [];
    for (const child of children) {
      if (child.startsWith('_')) continue;
      found.push(...(await this.walk(`${key}/${child}`, name ? `${name}/${child}` : child)));
    }
    return found;
  }
}
