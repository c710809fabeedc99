import type { MirrorCache } from '../cache/mirror.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { H } from '../oci/headers.js';
import { parseReference, type Reference } from '../oci/reference.js';
import { routeFor, type ApiContext } from './context.js';
import { acceptedTypes, negotiateManifest } from './manifest-accept.js';

/**
 * GET|HEAD /v2/<name>/manifests/<reference>: the manifest with its own media type, or what the
 * client's Accept lets it take instead (manifest-accept.ts). Returns the upstream it came through.
 */
export async function serveManifest(ctx: ApiContext, mirror: MirrorCache, name: string, reference: string): Promise<string> {
  const route = routeFor(ctx, mirror, name);
  const ref = parseReference(reference);
  const accepted = acceptedTypes(ctx.get(H.accept));
  const byTag = ref.kind === 'tag';
  const byDigest = (digest: Digest): Reference => ({ kind: 'digest', digest });
  const getManifest = async (r: Reference) => {
    const { manifest, cache } = await mirror.manifests.getManifest(route, r);
    return { ...manifest, size: manifest.body.length, cache };
  };
  if (ctx.method === 'HEAD') {
    const stat = await negotiateManifest(accepted, await mirror.manifests.statManifest(route, ref), byTag, {
      // A HEAD has no body to pick a child from: the list is fetched by its digest (and so cached).
      body: async (found) => (await mirror.manifests.getManifest(route, byDigest(parseDigest(found.digest)))).manifest.body,
      child: (digest) => mirror.manifests.statManifest(route, byDigest(digest)),
    });
    ctx.state.cache = stat.cache;
    setManifestHeaders(ctx, stat.digest, stat.mediaType, stat.size);
    ctx.status = 200;
    return route.upstream.name;
  }
  const manifest = await negotiateManifest(accepted, await getManifest(ref), byTag, {
    body: (found) => Promise.resolve(found.body),
    child: (digest) => getManifest(byDigest(digest)),
  });
  ctx.state.cache = manifest.cache;
  setManifestHeaders(ctx, manifest.digest, manifest.mediaType, manifest.size);
  if (ctx.get('If-None-Match') === `"${manifest.digest}"`) {
    ctx.status = 304;
    return route.upstream.name;
  }
  ctx.body = manifest.body;
  ctx.type = manifest.mediaType; // Koa resets Content-Type when a Buffer body is set
  return route.upstream.name;
}

function setManifestHeaders(ctx: ApiContext, digest: string, mediaType: string, size: number): void {
  ctx.set(H.contentDigest, digest);
  ctx.set(H.etag, `"${digest}"`);
  ctx.type = mediaType;
  ctx.length = size;
}
