import type { Readable } from 'node:stream';
import type { MirrorCache } from '../cache/mirror.js';
import { parseDigest } from '../oci/digest.js';
import { H } from '../oci/headers.js';
import { routeFor, type ApiContext } from './context.js';
import { parseRange } from './range.js';

const OCTET_STREAM = 'application/octet-stream';

/** GET|HEAD /v2/<name>/blobs/<digest>, with single byte ranges (206, 416). */
export async function serveBlob(ctx: ApiContext, mirror: MirrorCache, name: string, digestText: string): Promise<void> {
  const route = routeFor(ctx, mirror, name);
  const digest = parseDigest(digestText);
  ctx.set(H.contentDigest, digest.value);
  ctx.set(H.etag, `"${digest.value}"`);
  ctx.set(H.acceptRanges, 'bytes');
  if (ctx.method === 'HEAD') {
    const { size, cache } = await mirror.blobs.statBlob(route, digest);
    ctx.state.cache = cache;
    ctx.type = OCTET_STREAM;
    ctx.length = size;
    ctx.status = 200;
    return;
  }
  const rangeHeader = ctx.get(H.range) || undefined;
  const blob = await mirror.blobs.getBlob(route, digest, rangeHeader === undefined);
  ctx.state.cache = blob.cache;
  if (blob.redirect) {
    // S3 `redirect: true`: the client fetches the stored bytes from S3 itself, ranges included.
    ctx.status = 307;
    ctx.set(H.location, blob.redirect);
    return;
  }
  const range = parseRange(rangeHeader, blob.size);
  const stream = await blob.open(range);
  sendStream(ctx, stream);
  ctx.type = OCTET_STREAM;
  if (range) {
    ctx.status = 206;
    ctx.set(H.contentRange, `bytes ${range.start}-${range.end}/${blob.size}`);
    ctx.length = range.end - range.start + 1;
  } else {
    ctx.length = blob.size;
  }
}

/**
 * Sets a stream as the body so that a failure mid-stream (cut upstream, wrong digest) destroys the
 * connection: the client sees a short read against Content-Length, never a clean end on bad bytes.
 */
function sendStream(ctx: ApiContext, stream: Readable): void {
  stream.once('error', () => ctx.res.destroy());
  ctx.body = stream;
}
