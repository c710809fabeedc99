import type { Logger } from 'pino';
import type { ClusterLeases } from '../cluster/lease.js';
import { parseDigest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { Reference } from '../oci/reference.js';
import { StorageError } from '../storage/driver.js';
import { UpstreamError } from '../upstream/errors.js';
import type { Route } from '../upstream/routing.js';
import { Inflight } from './inflight.js';
import { fetchedBy, revalidatedBy } from '../cluster/manifest-flight.js';
import { ManifestStore, type StoredManifest, type TagRecord } from './manifest-store.js';
import { NotFoundCache } from './not-found.js';
import type { CacheStatus } from './status.js';
import type { UsageIndex } from './usage-index.js';

export interface ManifestResult {
  manifest: StoredManifest;
  cache: CacheStatus;
}

/** A cached tag that may be served now, or (`moved`) the stale record of one the upstream says moved. */
interface CurrentTag {
  tag: TagRecord;
  cache: CacheStatus;
  /** `tagRevalidation: wait` and the HEAD named another digest: serve `tag` only if the new manifest cannot be fetched. */
  moved?: true;
}

export interface ManifestStat {
  digest: string;
  mediaType: string;
  size: number;
  cache: CacheStatus;
}

/**
 * Pull-through manifests: `local` is the store, `remote` the route's upstream client.
 * Digests are immutable: stored once, never revalidated. Tags are fresh for the upstream's
 * tagTTL (no upstream request at all), then revalidated with a HEAD (free on Docker Hub, where
 * only GETs count as pulls), in the background while the stale tag is served, or (`wait`) before
 * answering; if the upstream fails, the stale tag is served.
 */
export class PullThroughManifests {
  private readonly fetches: Inflight<StoredManifest>;
  private readonly revalidations: Inflight<TagRecord | undefined>;
  private readonly notFound: NotFoundCache;

  constructor(
    private readonly local: ManifestStore,
    private readonly log: Logger,
    /** Access times for eviction; absent when the cache is unbounded. */
    private readonly usage?: UsageIndex,
    private readonly now: () => number = Date.now,
    /** Cluster mode: fetches and revalidations run once across replicas (src/cluster/manifest-flight.ts). */
    cluster?: ClusterLeases,
  ) {
    this.notFound = new NotFoundCache(now);
    this.fetches = new Inflight(cluster?.flight('manifest'));
    this.revalidations = new Inflight(cluster?.flight('tag'));
  }

  async getManifest(route: Route, reference: Reference): Promise<ManifestResult> {
    const up = route.upstream.name;
    if (reference.kind === 'digest') {
      const cached = await this.lookedUp(() => this.local.getByDigest(up, route.name, reference.digest));
      if (cached) return this.served(cached, 'hit');
      return this.fetch(route, reference.digest.value);
    }
    const tag = reference.tag;
    const current = await this.lookedUp(() => this.currentTag(route, tag));
    const cached = current && (await this.local.getByDigest(up, route.name, parseDigest(current.tag.digest)));
    if (!cached) return this.fetch(route, tag);
    if (!current.moved) return this.served(cached, current.cache);
    // The HEAD said moved; if the GET of the new manifest fails, the old one is here.
    return this.staleIfError(
      route,
      tag,
      () => this.fetch(route, tag),
      () => this.served(cached, 'stale'),
    );
  }

  /** For HEAD: answers a miss with the upstream's HEAD alone, so a HEAD never costs a pull. */
  async statManifest(route: Route, reference: Reference): Promise<ManifestStat> {
    if (reference.kind === 'digest') {
      const cached = await this.local.getByDigest(route.upstream.name, route.name, reference.digest);
      if (cached) return { digest: cached.digest, mediaType: cached.mediaType, size: cached.body.length, cache: 'hit' };
      return this.statUpstream(route, reference);
    }
    const current = await this.currentTag(route, reference.tag);
    if (!current) return this.statUpstream(route, reference);
    if (!current.moved) return { ...current.tag, cache: current.cache };
    return this.staleIfError(
      route,
      reference.tag,
      () => this.statUpstream(route, reference),
      () => ({ ...current.tag, cache: 'stale' }),
    );
  }

  /** The upstream's HEAD (a GET only when it names no digest); a tag's answer is kept as its record. */
  private async statUpstream(route: Route, reference: Reference): Promise<ManifestStat> {
    const up = route.upstream.name;
    const ref = reference.kind === 'digest' ? reference.digest.value : reference.tag;
    const head = await this.unlessNotFound(route, ref, () => route.upstream.client.headManifest(route.name, ref));
    if (!head.digest) {
      const { manifest, cache } = await this.fetch(route, ref);
      return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.body.length, cache };
    }
    // Keep tag → digest: containerd resolves a tag with this HEAD, then GETs by digest, so without
    // the tag record the manifest is cached but the tag cannot be resolved once upstream is gone.
    if (reference.kind === 'tag') {
      const record = { digest: head.digest, mediaType: head.mediaType, size: head.size, checkedAt: this.now() };
      await this.keep(route, ref, () => this.local.putTag(up, route.name, ref, record));
    }
    return { digest: head.digest, mediaType: head.mediaType, size: head.size, cache: 'upstream' };
  }

  /**
   * A storage lookup, asked again when a fetch ended while it ran: that fetch may have stored its
   * manifest after the answer and left `fetches`, and a herd's late client would GET it a second time.
   */
  private async lookedUp<T>(lookup: () => Promise<T | undefined>): Promise<T | undefined> {
    for (;;) {
      const ended = this.fetches.ended;
      const found = await lookup();
      if (found !== undefined || ended === this.fetches.ended) return found;
    }
  }

  private served(manifest: StoredManifest, cache: CacheStatus): ManifestResult {
    this.usage?.touch(manifest.digest);
    return { manifest, cache };
  }

  /**
   * The cached tag if it may be served now: fresh, immutable, past its TTL with the revalidation
   * in the background (the default), revalidated (`tagRevalidation: wait`), or stale on upstream failure.
   */
  private async currentTag(route: Route, tag: string): Promise<CurrentTag | undefined> {
    const { upstream, name } = route;
    const record = await this.local.getTag(upstream.name, name, tag);
    if (!record) return undefined;
    const fresh = this.now() - record.checkedAt < upstream.tagTTL || upstream.immutableTags?.test(tag) === true;
    if (fresh) return { tag: record, cache: 'hit' };
    if (upstream.tagRevalidation === 'background') {
      this.revalidateInBackground(route, tag, record);
      return { tag: record, cache: 'stale' };
    }
    return this.staleIfError(
      route,
      tag,
      async (): Promise<CurrentTag> => {
        const { result, joined } = this.revalidations.run(
          `${upstream.name}/${name}:${tag}`,
          () => this.revalidate(route, tag, record),
          () => revalidatedBy(this.local, route, tag, record),
        );
        const confirmed = await result;
        return confirmed ? { tag: confirmed, cache: joined ? 'coalesced' : 'revalidated' } : { tag: record, cache: 'stale', moved: true };
      },
      () => ({ tag: record, cache: 'stale' }),
    );
  }

  /** Stale-if-error: what `attempt` gives, or, when the upstream fails it, the stale answer (warned once per cause). */
  private async staleIfError<T>(route: Route, tag: string, attempt: () => Promise<T>, stale: () => T): Promise<T> {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      this.warnStale(route, tag, err);
      return stale();
    }
  }

  /**
   * Stale-while-revalidate: one HEAD per tag at a time however many pulls arrive; a moved tag's
   * new manifest is fetched and stored, so the next pull gets it. A failure keeps the stale tag.
   */
  private revalidateInBackground(route: Route, tag: string, record: TagRecord): void {
    const { upstream, name } = route;
    const { result, joined } = this.revalidations.run(
      `${upstream.name}/${name}:${tag}`,
      async () => {
        const confirmed = await this.revalidate(route, tag, record);
        if (confirmed) return confirmed;
        await this.fetch(route, tag);
        return undefined;
      },
      () => revalidatedBy(this.local, route, tag, record),
    );
    if (joined) return;
    result.catch((err: unknown) => {
      if (isNotFound(err)) {
        this.log.info({ upstream: upstream.name, repository: name, tag }, 'tag gone upstream; forgotten');
      } else if (err instanceof UpstreamError) {
        this.warnStale(route, tag, err);
      } else {
        this.log.error(
          { upstream: upstream.name, repository: name, tag, err: err instanceof Error ? err.message : String(err) },
          'background revalidation failed',
        );
      }
    });
  }

  /** One warning per cause (the log is rate-limited); none when the health gate held the request back, its change was logged. */
  private warnStale(route: Route, tag: string, err: UpstreamError): void {
    if (!err.heldBack) this.log.warn({ upstream: route.upstream.name, repository: route.name, tag, err: err.message }, 'upstream failed; serving stale tag');
  }

  /** Confirms the tag with a HEAD; undefined when it moved (the caller then fetches the new one). */
  private async revalidate(route: Route, tag: string, record: TagRecord): Promise<TagRecord | undefined> {
    const { upstream, name } = route;
    let head;
    try {
      head = await this.unlessNotFound(route, tag, () => upstream.client.headManifest(name, tag, true));
    } catch (err) {
      // Gone upstream: forget the tag rather than serve something the upstream has withdrawn.
      if (isNotFound(err)) await this.local.deleteTag(upstream.name, name, tag);
      throw err;
    }
    if (head.digest !== record.digest) return undefined;
    const refreshed = { ...record, checkedAt: this.now() };
    await this.keep(route, tag, () => this.local.putTag(upstream.name, name, tag, refreshed));
    return refreshed;
  }

  /** One upstream GET per (upstream, repository, reference) at a time; stores bytes, link and tag. */
  private async fetch(route: Route, ref: string): Promise<ManifestResult> {
    const { upstream, name } = route;
    const { result, joined } = this.fetches.run(
      `${upstream.name}/${name}@${ref}`,
      async () => {
        const remote = await this.unlessNotFound(route, ref, () => upstream.client.getManifest(name, ref));
        if (ref.includes(':') && remote.digest !== ref) {
          throw UpstreamError.protocol(upstream.name, `manifest ${name}@${ref} arrived with digest ${remote.digest}`);
        }
        await this.keep(route, ref, async () => {
          await this.local.put(upstream.name, name, remote);
          this.usage?.add(remote.digest, remote.body.length);
          if (!ref.includes(':')) {
            await this.local.putTag(upstream.name, name, ref, {
              digest: remote.digest,
              mediaType: remote.mediaType,
              size: remote.body.length,
              checkedAt: this.now(),
            });
          }
        });
        return remote;
      },
      () => fetchedBy(this.local, route, ref),
    );
    return { manifest: await result, cache: joined ? 'coalesced' : 'miss' };
  }

  /** Asks the upstream unless it answered 404 for this reference within notFoundTTL; remembers a new 404. */
  private async unlessNotFound<T>(route: Route, ref: string, ask: () => Promise<T>): Promise<T> {
    const key = `${route.upstream.name}/${route.name}@${ref}`;
    const known = this.notFound.recall(key);
    if (known) throw known;
    try {
      return await ask();
    } catch (err) {
      if (isNotFound(err)) this.notFound.remember(key, err, route.upstream.notFoundTTL);
      throw err;
    }
  }

  /**
   * Runs a storage write the answer does not depend on. If storage fails (disk full, permissions)
   * the verified manifest is still served, uncached, as blobs are passed through: a broken disk
   * must not fail every pull at its first request. /readyz reports the disk.
   */
  private async keep(route: Route, ref: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      this.log.error(
        { err: err.message, upstream: route.upstream.name, repository: route.name, reference: ref },
        'cannot store manifest; passing it through uncached',
      );
    }
  }
}

/**
 * The upstream's own "not there" for a manifest: a 404, or Docker Hub's 401 insufficient_scope
 * for a repository that does not exist or is private (NAME_UNKNOWN). Not an outage, which is an UpstreamError.
 */
function isNotFound(err: unknown): err is RegistryError {
  return err instanceof RegistryError && (err.code === 'MANIFEST_UNKNOWN' || err.code === 'NAME_UNKNOWN');
}
