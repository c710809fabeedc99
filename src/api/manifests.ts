import type { MirrorCache } from '../cache/mirror.js';
import { H } from '../oci/headers.js';
import { parseReference } from '../oci/reference.js';
import { routeFor, type ApiContext } from './context.js';

/** GET|HEAD /v2/<name>/manifests/<reference>: the manifest with its own media type. Returns the upstream it came through. */
export async function serveManifest(ctx: ApiContext, mirror: MirrorCache, name: string, reference: string): Promise<string> {
  const route = routeFor(ctx, mirror, name);
  const ref = parseReference(reference);
  if (ctx.method === 'HEAD') {
    const stat = await mirror.manifests.statManifest(route, ref);
    ctx.state.cache = stat.cache;
    setManifestHeaders(ctx, stat.digest, stat.mediaType, stat.size);
    ctx.status = 200;
    return route.upstream.name;
  }
  const { manifest, cache } = await mirror.manifests.getManifest(route, ref);
  ctx.state.cache = cache;
  setManifestHeaders(ctx, manifest.digest, manifest.mediaType, manifest.body.length);
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
