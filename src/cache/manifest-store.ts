import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.js';
import { parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import { GcJournal } from '../gc/journal.js';

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

/** Memory for manifest bytes: the hot path of every pull, a few KiB each. */
const MANIFEST_MEMORY_BYTES = 64 * 1024 * 1024;
const TAG_MEMORY_ENTRIES = 10_000;
/**
 * How long a tag record is trusted from memory before storage is read again: another replica (or
 * gc) may have changed it in a shared bucket; staleness is bounded by this, not by tagTTL.
 */
const TAG_MEMORY_MS = 30_000;

/**
 * Manifests and tags in storage: bytes under their digest (shared with blobs), a per-repository
 * link that records the media type, and a small JSON record per tag. Recently used ones are kept
 * in memory too, since a cached tag pull would otherwise read three small files per request.
 * Knows nothing of upstreams beyond the name of the folder they live in.
 */
export class ManifestStore {
  private readonly manifests = new LRUCache<string, StoredManifest>({
    maxSize: MANIFEST_MEMORY_BYTES,
    sizeCalculation: (m) => m.body.length + 256,
  });
  private readonly tags = new LRUCache<string, TagRecord>({ max: TAG_MEMORY_ENTRIES, ttl: TAG_MEMORY_MS });
  /** Tells a running gc what is stored meanwhile, so its sweep keeps what the new manifest needs. */
  private readonly gcJournal: GcJournal;

  constructor(private readonly storage: StorageDriver) {
    this.gcJournal = new GcJournal(storage);
  }

  async getByDigest(upstream: string, name: string, digest: Digest): Promise<StoredManifest | undefined> {
    const key = `${upstream}/${name}@${digest.value}`;
    const remembered = this.manifests.get(key);
    if (remembered) return remembered;
    const link = await this.storage.get(paths.manifestLink(upstream, name, digest));
    if (!link) return undefined;
    const body = await this.storage.get(paths.blob(digest));
    if (!body) return undefined;
    const { mediaType } = JSON.parse(link.toString('utf8')) as { mediaType: string };
    const manifest = { body, digest: digest.value, mediaType };
    this.manifests.set(key, manifest);
    return manifest;
  }

  async getTag(upstream: string, name: string, tag: string): Promise<TagRecord | undefined> {
    const key = `${upstream}/${name}:${tag}`;
    const remembered = this.tags.get(key);
    if (remembered) return remembered;
    const bytes = await this.storage.get(paths.tag(upstream, name, tag));
    if (!bytes) return undefined;
    try {
      const record = JSON.parse(bytes.toString('utf8')) as TagRecord;
      this.tags.set(key, record);
      return record;
    } catch {
      return undefined; // a torn record from an old crash: treat as uncached and refetch
    }
  }

  /** Stores the bytes before the link, and the link before any tag points at it. */
  async put(upstream: string, name: string, manifest: StoredManifest): Promise<void> {
    const digest = parseDigest(manifest.digest);
    await this.gcJournal.recordManifest(digest);
    await this.storage.put(paths.blob(digest), manifest.body);
    await this.storage.put(paths.manifestLink(upstream, name, digest), Buffer.from(JSON.stringify({ mediaType: manifest.mediaType })));
    this.manifests.set(`${upstream}/${name}@${manifest.digest}`, manifest);
  }

  async putTag(upstream: string, name: string, tag: string, record: TagRecord): Promise<void> {
    await this.storage.put(paths.tag(upstream, name, tag), Buffer.from(JSON.stringify(record)));
    this.tags.set(`${upstream}/${name}:${tag}`, record);
  }

  async deleteTag(upstream: string, name: string, tag: string): Promise<void> {
    this.tags.delete(`${upstream}/${name}:${tag}`);
    await this.storage.delete(paths.tag(upstream, name, tag));
  }

  /** Removes a repository's link to a manifest (eviction); the bytes are the caller's business. */
  async unlink(upstream: string, name: string, digest: Digest): Promise<void> {
    this.manifests.delete(`${upstream}/${name}@${digest.value}`);
    await this.storage.delete(paths.manifestLink(upstream, name, digest));
  }

  async listTags(upstream: string, name: string): Promise<string[]> {
    return this.storage.list(paths.tags(upstream, name));
  }
}
