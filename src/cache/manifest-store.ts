import type { Digest } from '../oci/digest.js';
import { parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';

export interface StoredManifest {
  body: Buffer;
  digest: string;
  mediaType: string;
}

/** What a cached tag points at, and when the upstream last confirmed it. */
export interface TagRecord {
  digest: string;
  mediaType: string;
  size: number;
  /** Epoch ms of the last upstream confirmation. */
  checkedAt: number;
}

/**
 * Manifests and tags in storage: bytes under their digest (shared with blobs), a per-repository
 * link that records the media type, and a small JSON record per tag. Knows nothing of upstreams
 * beyond the name of the folder they live in.
 */
export class ManifestStore {
  constructor(private readonly storage: StorageDriver) {}

  async getByDigest(upstream: string, name: string, digest: Digest): Promise<StoredManifest | undefined> {
    const link = await this.storage.get(paths.manifestLink(upstream, name, digest));
    if (!link) return undefined;
    const body = await this.storage.get(paths.blob(digest));
    if (!body) return undefined;
    const { mediaType } = JSON.parse(link.toString('utf8')) as { mediaType: string };
    return { body, digest: digest.value, mediaType };
  }

  async getTag(upstream: string, name: string, tag: string): Promise<TagRecord | undefined> {
    const bytes = await this.storage.get(paths.tag(upstream, name, tag));
    if (!bytes) return undefined;
    try {
      return JSON.parse(bytes.toString('utf8')) as TagRecord;
    } catch {
      return undefined; // a torn record from an old crash: treat as uncached and refetch
    }
  }

  /** Stores the bytes before the link, and the link before any tag points at it. */
  async put(upstream: string, name: string, manifest: StoredManifest): Promise<void> {
    const digest = parseDigest(manifest.digest);
    await this.storage.put(paths.blob(digest), manifest.body);
    await this.storage.put(paths.manifestLink(upstream, name, digest), Buffer.from(JSON.stringify({ mediaType: manifest.mediaType })));
  }

  async putTag(upstream: string, name: string, tag: string, record: TagRecord): Promise<void> {
    await this.storage.put(paths.tag(upstream, name, tag), Buffer.from(JSON.stringify(record)));
  }

  async deleteTag(upstream: string, name: string, tag: string): Promise<void> {
    await this.storage.delete(paths.tag(upstream, name, tag));
  }

  async listTags(upstream: string, name: string): Promise<string[]> {
    return this.storage.list(paths.tags(upstream, name));
  }
}
