import type { Logger } from 'pino';
import { z } from 'zod';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { parseJson } from '../oci/json.js';
import { StorageError, type StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import { UpstreamError } from '../upstream/errors.js';
import type { Route } from '../upstream/routing.js';
import { Inflight } from './inflight.js';
import type { PullThroughManifests } from './manifests.js';
import type { CacheStatus } from './status.js';

/** A descriptor of the referrers list: mediaType, digest, size, and whatever else the upstream put in (artifactType, annotations). */
const descriptor = z.looseObject({ mediaType: z.string(), digest: z.string(), size: z.number(), artifactType: z.string().optional() });
export type ReferrerDescriptor = z.infer<typeof descriptor>;
const referrersIndex = z.object({ manifests: z.array(descriptor).default([]) });

/**
 * What is kept per subject: the unfiltered list, how the upstream gave it (its referrers API, or
 * the `sha256-<hex>` tag of the referrers tag schema), and when the upstream last confirmed it.
 */
const record = z.object({ manifests: z.array(descriptor), via: z.enum(['api', 'tag']), checkedAt: z.number() });
type ReferrersRecord = z.infer<typeof record>;

export interface ReferrersResult {
  manifests: ReferrerDescriptor[];
  /** The artifactType filter was applied (the `OCI-Filters-Applied` header says so). */
  filtered: boolean;
  cache: CacheStatus;
}

/**
 * OCI 1.1 referrers (`GET /v2/<name>/referrers/<digest>`), cached like a tag: fresh for the
 * upstream's tagTTL with no upstream request, then asked again; on upstream failure the stale
 * list is served. An upstream without the referrers API (distribution 2.8: 404) is read through
 * the referrers tag schema instead: the index tagged `sha256-<hex>`, pulled through the manifest
 * cache like any tag, so it too works offline once pulled. No referrers at all is an empty list.
 * The list is cached unfiltered, and `artifactType` filtered here, whatever the upstream supports.
 */
export class PullThroughReferrers {
  private readonly fetches = new Inflight<ReferrerDescriptor[]>();

  constructor(
    private readonly storage: StorageDriver,
    /** The tag schema's index is a manifest by tag: pulled (and cached) through here. */
    private readonly manifests: PullThroughManifests,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async getReferrers(route: Route, subject: Digest, artifactType?: string): Promise<ReferrersResult> {
    const answer = (manifests: ReferrerDescriptor[], cache: CacheStatus): ReferrersResult =>
      artifactType === undefined
        ? { manifests, filtered: false, cache }
        : { manifests: manifests.filter((d) => d.artifactType === artifactType), filtered: true, cache };
    const cached = await this.read(route, subject);
    if (cached && this.now() - cached.checkedAt < route.upstream.tagTTL) return answer(cached.manifests, 'hit');
    const key = `${route.upstream.name}/${route.name}@${subject.value}`;
    try {
      const { result, joined } = this.fetches.run(key, () => this.fetch(route, subject, cached !== undefined));
      const manifests = await result;
      return answer(manifests, joined ? 'coalesced' : cached ? 'revalidated' : 'miss');
    } catch (err) {
      if (!(err instanceof UpstreamError) || !cached) throw err;
      if (!err.heldBack)
        this.log.warn(
          { upstream: route.upstream.name, repository: route.name, subject: subject.value, err: err.message },
          'upstream failed; serving stale referrers',
        );
      return answer(cached.manifests, 'stale');
    }
  }

  /** Asks the referrers API, else reads the tag schema's index; stores what it found. */
  private async fetch(route: Route, subject: Digest, haveCached: boolean): Promise<ReferrerDescriptor[]> {
    const { upstream, name } = route;
    const body = await upstream.client.getReferrers(name, subject.value, haveCached);
    const fresh: ReferrersRecord =
      body === undefined
        ? { manifests: await this.fromTagSchema(route, subject), via: 'tag', checkedAt: this.now() }
        : { manifests: parseIndex(upstream.name, body, `referrers of ${name}@${subject.value}`), via: 'api', checkedAt: this.now() };
    try {
      await this.storage.put(paths.referrers(upstream.name, name, subject), Buffer.from(JSON.stringify(fresh)));
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      this.log.error(
        { err: err.message, upstream: upstream.name, repository: name, subject: subject.value },
        'cannot store referrers; passing them through uncached',
      );
    }
    return fresh.manifests;
  }

  /** The `<alg>-<hex>` tag's index (pushed by cosign, oras and the like), or none when there is no such tag. */
  private async fromTagSchema(route: Route, subject: Digest): Promise<ReferrerDescriptor[]> {
    try {
      const { manifest } = await this.manifests.getManifest(route, { kind: 'tag', tag: `${subject.algorithm}-${subject.hex}` });
      return parseIndex(route.upstream.name, manifest.body, `referrers tag of ${route.name}@${subject.value}`);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') return [];
      throw err;
    }
  }

  private async read(route: Route, subject: Digest): Promise<ReferrersRecord | undefined> {
    const bytes = await this.storage.get(paths.referrers(route.upstream.name, route.name, subject));
    if (!bytes) return undefined;
    const parsed = record.safeParse(parseJson(bytes));
    return parsed.success ? parsed.data : undefined; // a torn record from an old crash: ask again
  }
}

function parseIndex(upstream: string, body: Buffer, what: string): ReferrerDescriptor[] {
  const parsed = referrersIndex.safeParse(parseJson(body));
  if (!parsed.success) throw UpstreamError.protocol(upstream, `${what} is not an image index`);
  return parsed.data.manifests;
}
