import type { Logger } from 'pino';
import type { StorageDriver } from '../storage/driver.js';
import type { UpstreamRouter } from '../upstream/routing.js';
import { PullThroughBlobs } from './blobs.js';
import { Catalog } from './catalog.js';
import { ManifestStore } from './manifest-store.js';
import { PullThroughManifests } from './manifests.js';
import { PullThroughTags } from './tags.js';

/** The pull-through cache as the API sees it: one object per resource family, sharing one store. */
export class MirrorCache {
  readonly manifests: PullThroughManifests;
  readonly blobs: PullThroughBlobs;
  readonly tags: PullThroughTags;
  readonly catalog: Catalog;

  constructor(
    readonly storage: StorageDriver,
    readonly router: UpstreamRouter,
    log: Logger,
  ) {
    const store = new ManifestStore(storage);
    this.manifests = new PullThroughManifests(store, log);
    this.blobs = new PullThroughBlobs(storage, log);
    this.tags = new PullThroughTags(store, log);
    this.catalog = new Catalog(storage, router);
  }
}
