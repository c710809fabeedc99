import type { MirrorCache } from '../cache/mirror.js';
import { parseDigest } from '../oci/digest.js';
import { H } from '../oci/headers.js';
import { MediaType } from '../oci/media-types.js';
import { routeFor, type ApiContext } from './context.js';

/**
 * GET|HEAD /v2/<name>/referrers/<digest>[?artifactType=…] (OCI distribution 1.1): the manifests
 * whose `subject` is the digest, as an image index; an empty index, never a 404, when there are none.
 */
export async function serveReferrers(ctx: ApiContext, mirror: MirrorCache, name: string, digest: string): Promise<void> {
  const route = routeFor(ctx, mirror, name);
  const subject = parseDigest(digest);
  const artifactType = typeof ctx.query.artifactType === 'string' && ctx.query.artifactType !== '' ? ctx.query.artifactType : undefined;
  const { manifests, filtered, cache } = await mirror.referrers.getReferrers(route, subject, artifactType);
  ctx.state.cache = cache;
  if (filtered) ctx.set(H.ociFiltersApplied, 'artifactType');
  ctx.body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  ctx.type = MediaType.ociIndex; // Koa resets Content-Type when a Buffer body is set
}
