import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import type { Metrics } from '../observability/metrics.js';
import { noteUpstreamStatus } from '../observability/request-context.js';
import type { Challenge } from './challenge.js';
import { readErrorBody } from './error-body.js';
import { UpstreamError } from './errors.js';

/** A token service's answer (Docker's `token`, OAuth's `access_token`); anything else is the upstream's protocol error. */
const tokenResponse = z.object({
  token: z.string().min(1).optional(),
  access_token: z.string().min(1).optional(),
  expires_in: z.number().positive().optional(),
});
/** Token answers are a few KiB; a service sending more is not one. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/** Seconds before expiry at which a token is treated as gone, so a request never starts with a dying one. */
const EXPIRY_MARGIN_S = 15;

/**
 * Bearer tokens per scope, fetched from the challenge's realm (anonymously, or with Basic
 * credentials) and kept until just before `expires_in`. Concurrent requests for one scope share
 * one token fetch (lru-cache's fetchMethod coalesces).
 */
export class TokenCache {
  private readonly cache: LRUCache<string, string, Challenge>;

  constructor(
    private readonly upstreamName: string,
    private readonly dispatcher: Dispatcher,
    private readonly basicAuth: string | undefined,
    private readonly metrics?: Metrics,
  ) {
    this.cache = new LRUCache<string, string, Challenge>({
      max: 1000,
      ttlAutopurge: false,
      fetchMethod: (scope, _stale, { options, context }) => this.fetchToken(scope, context, options),
    });
  }

  async token(scope: string, challenge: Challenge, fresh = false): Promise<string> {
    const token = await this.cache.fetch(`${challenge.realm}|${challenge.service}|${scope}`, { context: challenge, forceRefresh: fresh });
    return token!;
  }

  private async fetchToken(key: string, challenge: Challenge, options: { ttl?: number }): Promise<string> {
    const scope = key.split('|')[2]!;
    const url = new URL(challenge.realm!);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    if (scope) url.searchParams.set('scope', scope);
    let res: Dispatcher.ResponseData;
    const started = performance.now();
    const observe = (status: number | 'error') => {
      this.metrics?.observeUpstream(this.upstreamName, 'token', 'GET', status, (performance.now() - started) / 1000);
      noteUpstreamStatus(status === 'error' ? 'unreachable' : status);
    };
    try {
      res = await request(url, {
        dispatcher: this.dispatcher,
        headers: this.basicAuth ? { authorization: this.basicAuth } : {},
      });
    } catch (err) {
      observe('error');
      throw UpstreamError.unreachable(this.upstreamName, `token service ${url.host}`, err);
    }
    observe(res.statusCode);
    if (res.statusCode !== 200) {
      // 401 here is the credentials refused: UNAUTHORIZED with the service's own sentence.
      throw UpstreamError.status(this.upstreamName, `token service ${url.host}`, res.statusCode, res.headers, await readErrorBody(res.body));
    }
    const body = await this.parse(res, url.host);
    const token = body.token ?? body.access_token;
    if (!token) throw UpstreamError.protocol(this.upstreamName, `token service ${url.host} answered without a token`);
    // The spec's default lifetime is 60 s when expires_in is absent.
    options.ttl = Math.max(1, (body.expires_in ?? 60) - EXPIRY_MARGIN_S) * 1000;
    return token;
  }

  /** The answer as JSON of the token shape; not JSON, too big or the wrong shape is a protocol error (never a 500). */
  private async parse(res: Dispatcher.ResponseData, host: string): Promise<z.infer<typeof tokenResponse>> {
    const invalid = (why: string) => UpstreamError.protocol(this.upstreamName, `token service ${host} answered ${why}`);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw UpstreamError.unreachable(this.upstreamName, `token service ${host}`, err);
    }
    if (text.length > MAX_TOKEN_RESPONSE_BYTES) throw invalid(`${text.length} bytes, not a token`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw invalid('with a body that is not JSON');
    }
    const parsed = tokenResponse.safeParse(json);
    if (!parsed.success) throw invalid(`JSON of the wrong shape (${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message})`);
    return parsed.data;
  }
}
