import { pipeline, type Readable } from 'node:stream';
import type { MirrorCache } from '../cache/mirror.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import { routeFor, type ApiContext } from './context.js';
import { parseRange } from './range.js';
import { isSelfSending } from '../storage/self-sending.js';

const OCTET_STREAM = 'application/octet-stream';

/** GET|HEAD /v2/<name>/blobs/<digest>, with single byte ranges (206, 416). */
export async function serveBlob(ctx: ApiContext, mirror: MirrorCache, name: string, digestText: string): Promise<void> {
  const route = routeFor(ctx, mirror, name);
  const digest = parseDigest(digestText);
  if (ctx.method === 'HEAD') {
    const { size, cache } = await mirror.blobs.statBlob(route, digest);
    ctx.state.cache = cache;
    setBlobHeaders(ctx, digest);
    ctx.length = size;
    ctx.status = 200;
    return;
  }
  const rangeHeader = ctx.get(H.range) || undefined;
  const blob = await mirror.blobs.getBlob(route, digest, { sized: rangeHeader !== undefined });
  ctx.state.cache = blob.cache;
  if (blob.redirect) {
    // S3 `redirect: true`: the client fetches the stored bytes from S3 itself, ranges included.
    ctx.status = 307;
    ctx.set(H.contentDigest, digest.value);
    ctx.set(H.location, blob.redirect);
    return;
  }
  const range = blob.size === undefined ? undefined : parseRange(rangeHeader, blob.size);
  const stream = await blob.open(range);
  // Content headers only now: an error before this point describes no content.
  setBlobHeaders(ctx, digest);
  if (range) {
    ctx.status = 206;
    ctx.set(H.contentRange, `bytes ${range.start}-${range.end}/${blob.size}`);
    ctx.length = range.end - range.start + 1;
  } else {
    ctx.status = 200;
    // No length while a fetch without one runs: the response goes out chunked.
    if (blob.size !== undefined) ctx.length = blob.size;
  }
  sendStream(ctx, stream);
}

function setBlobHeaders(ctx: ApiContext, digest: Digest): void {
  ctx.set(H.contentDigest, digest.value);
  ctx.set(H.etag, `"${digest.value}"`);
  ctx.set(H.acceptRanges, 'bytes');
  ctx.type = OCTET_STREAM;
}

/**
 * Streams the body straight into the response, past Koa's responder: pipeline() releases the
 * source (file descriptor, pin, S3 socket) whichever side ends first. A source that fails
 * mid-stream (cut upstream, wrong digest) destroys the connection, so the client sees a short
 * read, never a clean end on bad bytes; the cause goes to the request log.
 */
function sendStream(ctx: ApiContext, stream: Readable): void {
  ctx.respond = false;
  ctx.state.bytesSent = 0;
  // Before pipeline's own listener: the request log must know the cause when the connection closes.
  stream.once('error', (cause) => {
    const error = cause instanceof RegistryError ? cause : new RegistryError('UNAVAILABLE', cause.message);
    ctx.state.error = { code: error.code, message: error.message };
  });
  // A stored file sends itself with reused buffers (warm downloads); anything else is piped.
  if (isSelfSending(stream)) return void stream.sendTo(ctx.res, (bytes) => (ctx.state.bytesSent! += bytes));
  stream.on('data', (chunk: Buffer) => (ctx.state.bytesSent! += chunk.length));
  pipeline(stream, ctx.res, () => undefined);
}
