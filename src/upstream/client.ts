import { performance } from 'node:perf_hooks';
import { Transform, pipeline, type Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import type { UpstreamConfig } from '../config.js';
import type { Metrics, UpstreamKind } from '../observability/metrics.js';
import { noteUpstreamStatus } from '../observability/request-context.js';
import { sha256 } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import { parseJson } from '../oci/json.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MediaType, manifestMediaType } from '../oci/media-types.js';
import { parseChallenge, type Challenge } from './challenge.js';
import { BODY_BUFFER_BYTES, upstreamDispatcher } from './dispatcher.js';
import { readErrorBody, type UpstreamAnswer } from './error-body.js';
import { UpstreamError } from './errors.js';
import { UpstreamHealth, type HealthChange, type Ticket } from './health.js';
import { readRateLimit, retryAfterSeconds, type RateLimit } from './rate-limit.js';
import { TokenCache } from './tokens.js';
import { USER_AGENT } from '../version.js';

export interface UpstreamManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

export interface UpstreamManifestHead {
  /** Absent when the upstream sends no Docker-Content-Digest on HEAD; callers then GET. */
  digest?: string;
  mediaType: string;
  size: number;
}

export interface UpstreamBlob {
  size?: number;
  body: Readable;
}

export interface UpstreamTags {
  tags: string[];
  /** The upstream has more after the last one returned (it sent a `Link: rel="next"`). */
  more: boolean;
}

const MAX_REDIRECTS = 5;
const RETRYABLE = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);

interface SendOptions {
  method: 'GET' | 'HEAD';
  /** For metrics: what this exchange is about. */
  kind: UpstreamKind;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** The caller has a cached answer to give instead: while the upstream is down, it is not asked. */
  fallback?: boolean;
}

/**
 * Speaks the registry API to one upstream. Every upstream quirk lives here: the token flow, Docker
 * Hub's 307 to its CDN, rate-limit headers, retries of dead keep-alive sockets. Callers see
 * manifests, blobs and tags, or a RegistryError.
 */
export class UpstreamClient {
  readonly name: string;
  /** The last rate-limit headers this upstream sent. */
  rateLimit?: RateLimit;
  /** Its URLs in the configured order, each with its own health. */
  private readonly endpoints: readonly Endpoint[];
  private readonly dispatcher: Dispatcher;
  private readonly basicAuth?: string;
  private readonly tokens: TokenCache;

  constructor(
    config: UpstreamConfig,
    /** Requests, latencies, rate-limit gauges, bytes and in-flight fetches go here. */
    private readonly metrics?: Metrics,
    /** Told once per state change (down, up again), for the log. */
    onHealthChange?: (change: HealthChange) => void,
  ) {
    this.name = config.name;
    this.endpoints = config.urls.map((base) => {
      metrics?.observeUpstreamHealth(config.name, base, true);
      const health = new UpstreamHealth(base, config.health, (change) => {
        metrics?.observeUpstreamHealth(config.name, change.url, change.up);
        onHealthChange?.(change);
      });
      return { base, health };
    });
    this.dispatcher = upstreamDispatcher(config);
    if (config.username !== undefined) {
      this.basicAuth = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    }
    this.tokens = new TokenCache(config.name, this.dispatcher, this.basicAuth, metrics);
  }

  /** Some URL of it answered lately; while none did, callers with a cached answer skip it. */
  get up(): boolean {
    return this.endpoints.some((e) => e.health.up);
  }

  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<UpstreamManifest> {
    const fetched = this.metrics?.fetchStarted('manifest');
    try {
      const manifest = await this.fetchManifest(repository, reference, signal);
      this.metrics?.upstreamBytes(this.name, 'manifest', manifest.body.length);
      return manifest;
    } finally {
      fetched?.();
    }
  }

  private async fetchManifest(repository: string, reference: string, signal?: AbortSignal): Promise<UpstreamManifest> {
    const res = await this.send(repository, `manifests/${reference}`, { method: 'GET', kind: 'manifest', headers: { accept: MANIFEST_ACCEPT }, signal });
    await this.expectOk(res, repository, `manifest ${repository}:${reference}`, (said) => manifestUnknown(repository, reference, said));
    const declared = Number(res.headers['content-length']);
    if (declared > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw UpstreamError.protocol(this.name, `manifest ${repository}:${reference} is ${declared} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
    }
    const body = await readLimited(res.body, MAX_MANIFEST_BYTES, () =>
      UpstreamError.protocol(this.name, `manifest ${repository}:${reference} is over the ${MAX_MANIFEST_BYTES}-byte limit`),
    ).catch((err: unknown) => {
      if (err instanceof RegistryError) throw err;
      throw UpstreamError.unreachable(this.name, `manifest ${repository}:${reference}`, err);
    });
    const shapeError = manifestShapeError(body);
    if (shapeError) throw UpstreamError.protocol(this.name, `manifest ${repository}:${reference} ${shapeError}`);
    const digest = sha256(body);
    const claimed = header(res.headers, H.contentDigest);
    if (claimed && claimed !== digest) {
      throw UpstreamError.protocol(this.name, `manifest ${repository}:${reference} has digest ${digest}, upstream claimed ${claimed}`);
    }
    return { body, digest, mediaType: manifestMediaType(header(res.headers, H.contentType), body) };
  }

  /** `fallback`: the caller has a cached copy to serve if the upstream is down (a revalidation). */
  async headManifest(repository: string, reference: string, fallback = false): Promise<UpstreamManifestHead> {
    const res = await this.send(repository, `manifests/${reference}`, { method: 'HEAD', kind: 'manifest', headers: { accept: MANIFEST_ACCEPT }, fallback });
    await this.expectOk(res, repository, `manifest ${repository}:${reference}`, (said) => manifestUnknown(repository, reference, said));
    await res.body.dump();
    return {
      digest: header(res.headers, H.contentDigest),
      mediaType: manifestMediaType(header(res.headers, H.contentType), Buffer.alloc(0)),
      size: Number(res.headers['content-length'] ?? 0),
    };
  }

  /** The blob's size from a HEAD; no bytes move. */
  async headBlob(repository: string, digest: string): Promise<number> {
    const res = await this.send(repository, `blobs/${digest}`, { method: 'HEAD', kind: 'blob' });
    await this.expectOk(res, repository, `blob ${digest}`, (said) => blobUnknown(repository, digest, said));
    await res.body.dump();
    return Number(res.headers['content-length'] ?? 0);
  }

  /** The blob's bytes, unverified: the caller hashes them. `signal` aborts the transfer. */
  async getBlob(repository: string, digest: string, signal?: AbortSignal): Promise<UpstreamBlob> {
    const fetched = this.metrics?.fetchStarted('blob');
    let res: Dispatcher.ResponseData;
    try {
      res = await this.send(repository, `blobs/${digest}`, { method: 'GET', kind: 'blob', signal });
      await this.expectOk(res, repository, `blob ${digest}`, (said) => blobUnknown(repository, digest, said));
    } catch (err) {
      fetched?.();
      throw err;
    }
    const length = res.headers['content-length'];
    const body = this.metrics ? counted(res.body, (n) => this.metrics!.upstreamBytes(this.name, 'blob', n), fetched!) : res.body;
    return { size: length === undefined ? undefined : Number(length), body };
  }

  /**
   * The OCI 1.1 referrers list of `digest` (an image index, unfiltered), or undefined when the
   * upstream has no referrers API: a registry that has one never answers it with 404 (distribution
   * spec), and distribution 2.8 answers 404 (or 405 behind some proxies) for the unknown route.
   * `fallback`: the caller has a cached list to serve if the upstream is down.
   */
  async getReferrers(repository: string, digest: string, fallback = false): Promise<Buffer | undefined> {
    const what = `referrers of ${repository}@${digest}`;
    const res = await this.send(repository, `referrers/${digest}`, { method: 'GET', kind: 'referrers', headers: { accept: MediaType.ociIndex }, fallback });
    if (res.statusCode === 404 || res.statusCode === 405) {
      await res.body.dump().catch(() => undefined);
      return undefined;
    }
    await this.expectOk(res, repository, what, (said) => manifestUnknown(repository, digest, said));
    return readLimited(res.body, MAX_MANIFEST_BYTES, () => UpstreamError.protocol(this.name, `${what} is over the ${MAX_MANIFEST_BYTES}-byte limit`)).catch(
      (err: unknown) => {
        if (err instanceof RegistryError) throw err;
        throw UpstreamError.unreachable(this.name, what, err);
      },
    );
  }

  /** `fallback`: the caller has cached tags to list if the upstream is down. */
  async listTags(repository: string, n?: number, last?: string, fallback = false): Promise<UpstreamTags> {
    const query = new URLSearchParams();
    if (n !== undefined) query.set('n', String(n));
    if (last !== undefined) query.set('last', last);
    const qs = query.size > 0 ? `?${query}` : '';
    const res = await this.send(repository, `tags/list${qs}`, { method: 'GET', kind: 'tags', fallback });
    await this.expectOk(res, repository, `tags of ${repository}`, (said) =>
      notFound('NAME_UNKNOWN', 'repository name not known to registry', said, { name: repository }),
    );
    const text = await readLimited(res.body, MAX_MANIFEST_BYTES, () =>
      UpstreamError.protocol(this.name, `tags of ${repository}: over the ${MAX_MANIFEST_BYTES}-byte limit`),
    ).catch((err: unknown) => {
      if (err instanceof RegistryError) throw err;
      throw UpstreamError.unreachable(this.name, `tags of ${repository}`, err);
    });
    const json = parseJson(text);
    const parsed = tagList.safeParse(json);
    // Not an empty list: the caller then lists the tags it has cached, as for any upstream failure.
    if (!parsed.success)
      throw UpstreamError.protocol(this.name, `tags of ${repository}: ${json === undefined ? 'not JSON' : `not a tag list (${issueText(parsed.error)})`}`);
    return { tags: parsed.data.tags ?? [], more: /rel="?next"?/.test(header(res.headers, H.link.toLowerCase()) ?? '') };
  }

  /**
   * Reachable, and authentication works, checked as `docker login` does: `GET /v2/`; on a 401,
   * answer its challenge (a token for no scope, so nothing is pulled and no pull is counted, or the
   * configured Basic credentials) and `GET /v2/` again, which must answer 200.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    // A probe like any other: while the upstream is down, /readyz says so without asking it again.
    const opts: SendOptions = { method: 'GET', kind: 'ping', signal, fallback: true };
    await this.inOrder(signal, async (endpoint) => {
      const url = `${endpoint.base}/v2/`;
      let res = await this.attempt(endpoint, url, opts, undefined);
      if (res.statusCode === 401) {
        await res.body.dump().catch(() => undefined);
        res = await this.attempt(endpoint, url, opts, await this.answerChallenge(parseChallenge(res.headers['www-authenticate'])));
      }
      await res.body.dump().catch(() => undefined);
      if (res.statusCode !== 200) throw UpstreamError.status(this.name, `GET ${url}`, res.statusCode, res.headers);
    });
  }

  /**
   * Runs `run` on the URLs in the configured order: the next is tried when one fails with an
   * outage (no answer, 5xx, 429, or held down), so a fallback URL serves while the primary is down.
   * The last URL's error is the caller's.
   */
  private async inOrder<T>(signal: AbortSignal | undefined, run: (endpoint: Endpoint, last: boolean) => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      const last = i === this.endpoints.length - 1;
      try {
        return await run(this.endpoints[i]!, last);
      } catch (err) {
        if (last || !(err instanceof UpstreamError) || signal?.aborted) throw err;
      }
    }
  }

  /** The Authorization for /v2/ under this challenge; a challenge we cannot answer is the error. */
  private async answerChallenge(challenge: Challenge | undefined): Promise<string> {
    if (!challenge) throw UpstreamError.protocol(this.name, 'GET /v2/ answered 401 without a Bearer or Basic challenge');
    if (challenge.scheme === 'basic') {
      if (!this.basicAuth) throw UpstreamError.protocol(this.name, 'GET /v2/ asks for Basic credentials and none are configured');
      return this.basicAuth;
    }
    if (!challenge.realm) throw UpstreamError.protocol(this.name, 'GET /v2/ answered 401 with a Bearer challenge without realm');
    return `Bearer ${await this.tokens.token('', challenge)}`;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /**
   * A 200, or the upstream's refusal as our error, with what its body said. A 404 is the caller's
   * "unknown" error. A 401 `insufficient_scope` after a fresh token is Docker Hub saying the
   * repository does not exist or is private and not granted to us: 404 NAME_UNKNOWN, as
   * distribution's proxy answers it, never an outage.
   */
  private async expectOk(res: Dispatcher.ResponseData, repository: string, what: string, unknown: (said: UpstreamAnswer) => RegistryError): Promise<void> {
    if (res.statusCode === 200) return;
    const said = await readErrorBody(res.body);
    if (res.statusCode === 404) throw unknown(said);
    if (res.statusCode === 401 && parseChallenge(res.headers['www-authenticate'])?.error === 'insufficient_scope') {
      const message = `repository ${repository} not found upstream ${this.name}, or it is private and the mirror's credentials do not grant pull on it: ${said.message ?? 'insufficient_scope'}`;
      throw new RegistryError('NAME_UNKNOWN', message, {}, { name: repository });
    }
    throw UpstreamError.status(this.name, what, res.statusCode, res.headers, said);
  }

  /** One request with auth: a cached token up front, or learn the challenge from a 401 and retry once. */
  private async send(repository: string, path: string, opts: SendOptions): Promise<Dispatcher.ResponseData> {
    return this.inOrder(opts.signal, async (endpoint, last) => {
      // A down URL with another behind it is skipped like one with a cached answer: only probed.
      const res = await this.sendTo(endpoint, repository, path, last ? opts : { ...opts, fallback: true });
      if (last || (res.statusCode < 500 && res.statusCode !== 429)) return res;
      // An outage answer: the next URL may do better (the last one's answer goes to the caller).
      await res.body.dump().catch(() => undefined);
      throw UpstreamError.status(this.name, `${opts.method} ${endpoint.base}`, res.statusCode, res.headers);
    });
  }

  private async sendTo(endpoint: Endpoint, repository: string, path: string, opts: SendOptions): Promise<Dispatcher.ResponseData> {
    const scope = `repository:${repository}:pull`;
    const url = `${endpoint.base}/v2/${repository}/${path}`;
    let res = await this.follow(endpoint, url, opts, await this.authorization(endpoint, scope));
    if (res.statusCode === 401) {
      const challenge = parseChallenge(res.headers['www-authenticate']);
      await res.body.dump().catch(() => undefined);
      if (!challenge || (challenge.scheme === 'bearer' && !challenge.realm)) return res;
      endpoint.challenge = challenge;
      res = await this.follow(endpoint, url, opts, await this.authorization(endpoint, scope, true));
    }
    const rateLimit = readRateLimit(res.headers);
    if (rateLimit) {
      this.rateLimit = rateLimit;
      this.metrics?.observeRateLimit(this.name, rateLimit);
    }
    return res;
  }

  private async authorization({ challenge }: Endpoint, scope: string, fresh = false): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return this.basicAuth;
    return `Bearer ${await this.tokens.token(scope, challenge, fresh)}`;
  }

  /**
   * Follows redirects by hand: Docker Hub sends blob GETs to a CDN with a signed URL, and that CDN
   * rejects requests that still carry the registry's Authorization header, so it is dropped. A hop
   * to another origin is outside the endpoint's health gate: a CDN's failure fails that blob, and
   * says nothing of the registry, whose manifests and tags still answer.
   */
  private async follow(endpoint: Endpoint, url: string, opts: SendOptions, authorization: string | undefined): Promise<Dispatcher.ResponseData> {
    const origin = new URL(endpoint.base).origin;
    let target = url;
    let auth = authorization;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = new URL(target).origin === origin ? await this.attempt(endpoint, target, opts, auth) : await this.exchange(target, opts, auth);
      if (hop > 0 && res.statusCode === 401) {
        // Our credentials were not refused: a redirect (sent without them) led somewhere that wants them.
        await res.body.dump().catch(() => undefined);
        const to = new URL(target);
        throw UpstreamError.protocol(this.name, `${new URL(url).pathname} redirected to ${to.host}${to.pathname}, which answered 401`);
      }
      const location = header(res.headers, H.location.toLowerCase());
      if (res.statusCode < 300 || res.statusCode >= 400 || res.statusCode === 304 || !location) return res;
      await res.body.dump().catch(() => undefined);
      target = new URL(location, target).toString();
      auth = undefined;
    }
    throw UpstreamError.protocol(this.name, `more than ${MAX_REDIRECTS} redirects for ${url}`);
  }

  /**
   * One exchange, admitted by the endpoint's health gate, with its outcome reported to it. Retries a request
   * whose pooled keep-alive socket died under it; never a refused connection.
   */
  private async attempt(endpoint: Endpoint, url: string, opts: SendOptions, authorization: string | undefined): Promise<Dispatcher.ResponseData> {
    const admitted = endpoint.health.admit(opts.fallback === true);
    if ('refused' in admitted) {
      noteUpstreamStatus('unreachable');
      throw UpstreamError.down(this.name, `${opts.method} ${new URL(url).pathname}`, admitted.refused);
    }
    try {
      const res = await this.exchange(url, opts, authorization);
      this.report(admitted.ticket, res);
      return res;
    } catch (err) {
      if (opts.signal?.aborted) admitted.ticket.abandoned();
      else admitted.ticket.failed(err instanceof RegistryError ? err.message : String(err));
      throw err;
    }
  }

  /** 5xx and 429 count against the upstream's health; any other answer shows it is there. */
  private report(ticket: Ticket, res: Dispatcher.ResponseData): void {
    if (res.statusCode === 429) ticket.failed(`answered 429 Too Many Requests`, retryAfterSeconds(res.headers, readRateLimit(res.headers)));
    else if (res.statusCode >= 500) ticket.failed(`answered ${res.statusCode}`);
    else ticket.succeeded();
  }

  private async exchange(url: string, opts: SendOptions, authorization: string | undefined): Promise<Dispatcher.ResponseData> {
    const headers = { 'user-agent': USER_AGENT, ...opts.headers, ...(authorization ? { authorization } : {}) };
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const res = await request(url, { dispatcher: this.dispatcher, method: opts.method, headers, signal: opts.signal, highWaterMark: BODY_BUFFER_BYTES });
        this.metrics?.observeUpstream(this.name, opts.kind, opts.method, res.statusCode, (performance.now() - started) / 1000);
        noteUpstreamStatus(res.statusCode);
        return res;
      } catch (err) {
        this.metrics?.observeUpstream(this.name, opts.kind, opts.method, 'error', (performance.now() - started) / 1000);
        noteUpstreamStatus('unreachable');
        const code = (err as { code?: string }).code;
        if (attempt < 3 && code && RETRYABLE.has(code) && !opts.signal?.aborted) {
          await new Promise((r) => setTimeout(r, 50 * attempt + Math.random() * 100));
          continue;
        }
        throw UpstreamError.unreachable(this.name, `${opts.method} ${new URL(url).pathname}`, err);
      }
    }
  }
}

/** One URL of an upstream, with its own health and its own token service. */
interface Endpoint {
  base: string;
  health: UpstreamHealth;
  /** Learnt from its first 401, so later requests for new scopes fetch a token up front. */
  challenge?: Challenge;
}

/** `{"name","tags":[…]}`; distribution sends `"tags": null` for a repository without tags. */
const tagList = z.object({ tags: z.array(z.string()).nullable().optional() });
/** Every manifest kind (schema 1 and 2, OCI manifest and index) is a JSON object with a schemaVersion. */
const manifestShape = z.object({ schemaVersion: z.number().int(), mediaType: z.string().optional() });

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid';
}

/** Why these bytes are no manifest, or undefined when they are one. */
function manifestShapeError(body: Buffer): string | undefined {
  const json = parseJson(body);
  if (json === undefined) return 'is not JSON';
  const parsed = manifestShape.safeParse(json);
  return parsed.success ? undefined : `is not a manifest (${issueText(parsed.error)})`;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The upstream's 404 as it said it: its own code when it names the repository as unknown. */
function notFound(code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'NAME_UNKNOWN', message: string, said: UpstreamAnswer, detail: object): RegistryError {
  if (said.code === 'NAME_UNKNOWN') return new RegistryError('NAME_UNKNOWN', said.message ?? 'repository name not known to registry', {}, detail);
  return new RegistryError(code, said.message ?? message, {}, detail);
}

function blobUnknown(repository: string, digest: string, said: UpstreamAnswer): RegistryError {
  return notFound('BLOB_UNKNOWN', 'blob unknown to registry', said, { name: repository, digest });
}

function manifestUnknown(repository: string, reference: string, said: UpstreamAnswer): RegistryError {
  return notFound('MANIFEST_UNKNOWN', 'manifest unknown', said, { name: repository, reference });
}

async function readLimited(body: Readable, limit: number, tooBig: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      body.destroy();
      throw tooBig();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The body with its bytes counted as they pass; `ended` runs once when it ends, fails or is
 * destroyed. pipeline() makes destroying the returned stream destroy the upstream body too.
 */
function counted(body: Readable, onBytes: (n: number) => void, ended: () => void): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  pipeline(body, counter, () => ended());
  return counter;
}
