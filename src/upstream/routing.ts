import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { RegistryError } from '../oci/errors.js';
import { UpstreamClient } from './client.js';
import type { HealthChange } from './health.js';
import { RepositoryRules } from './repository-rules.js';

/** An upstream as the cache sees it: its client and the cache policy for its tags. */
export interface Upstream {
  readonly name: string;
  /** Where its bytes come from (for health output). */
  readonly url: string;
  readonly client: UpstreamClient;
  readonly tagTTL: number;
  /** Past tagTTL: serve the cached tag and revalidate behind it, or wait for the revalidation. */
  readonly tagRevalidation: 'background' | 'wait';
  readonly immutableTags?: RegExp;
  /** Its certificate is not checked (`tls.insecureSkipVerify`): shown on /readyz. */
  readonly insecureSkipVerify: boolean;
  /** How long an upstream 404 for a manifest is answered from memory (ms; 0: never). */
  readonly notFoundTTL: number;
  /** Which repositories it may serve (allow/deny patterns). */
  readonly repositories: RepositoryRules;
  /** A blob fetch fails after `idle` ms without bytes, or `deadline` ms in all. */
  readonly blobTimeouts: { idle: number; deadline: number };
}

/** A request's repository resolved to one configured upstream and the name there. */
export interface Route {
  upstream: Upstream;
  /** The repository name at the upstream, e.g. `library/alpine` for `alpine` on docker.io. */
  name: string;
}

const DOCKER_HUB = 'docker.io';
/** Names clients use for Docker Hub besides docker.io itself. */
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * Picks the upstream for a request, in order: containerd's `?ns=<host>`, a first path component
 * that is a configured upstream's name (podman/skopeo mirrors with a path prefix), else the first
 * configured upstream. Only configured upstreams are ever chosen: a request can never make the
 * mirror contact an address of its choosing.
 */
export class UpstreamRouter {
  readonly upstreams: readonly Upstream[];
  private readonly byName = new Map<string, Upstream>();

  constructor(configs: readonly UpstreamConfig[], metrics?: Metrics, log?: Logger) {
    this.upstreams = configs.map((c) => ({
      name: c.name,
      url: c.url,
      client: new UpstreamClient(c, metrics, log && ((change) => logHealthChange(log, c.name, change))),
      tagTTL: c.tagTTL,
      tagRevalidation: c.tagRevalidation,
      notFoundTTL: c.notFoundTTL,
      insecureSkipVerify: c.tls?.insecureSkipVerify === true,
      repositories: new RepositoryRules(c.name, c.repositories),
      immutableTags: c.immutableTags ? new RegExp(c.immutableTags) : undefined,
      blobTimeouts: { idle: c.timeouts.body, deadline: c.timeouts.blob },
    }));
    for (const u of this.upstreams) {
      this.byName.set(u.name, u);
      if (u.insecureSkipVerify)
        log?.warn(
          { upstream: u.name, url: u.url },
          'upstream TLS certificate is NOT verified (tls.insecureSkipVerify): anyone on the path can impersonate it and serve unverified tags',
        );
    }
  }

  get default(): Upstream {
    return this.upstreams[0]!;
  }

  /** The configured upstream with this host name (Docker Hub under any of its names), if any. */
  find(host: string): Upstream | undefined {
    const h = host.toLowerCase();
    return this.byName.get(DOCKER_HUB_ALIASES.has(h) ? DOCKER_HUB : h);
  }

  /** The route for a request's repository; 403 DENIED when its upstream's rules exclude it. */
  route(name: string, ns?: string): Route {
    const route = this.resolve(name, ns);
    route.upstream.repositories.check(route.name);
    return route;
  }

  private resolve(name: string, ns?: string): Route {
    if (ns) {
      const upstream = this.find(ns);
      if (!upstream) throw this.unknown(ns);
      return { upstream, name: remoteName(upstream, name) };
    }
    const slash = name.indexOf('/');
    if (slash > 0) {
      const first = name.slice(0, slash);
      const upstream = this.find(first);
      if (upstream) return { upstream, name: remoteName(upstream, name.slice(slash + 1)) };
      // A dotted or ported first component names a registry host; Docker Hub namespaces never do.
      if (first.includes('.') || first.includes(':') || first === 'localhost') throw this.unknown(first);
    }
    return { upstream: this.default, name: remoteName(this.default, name) };
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.client.close()));
  }

  private unknown(host: string): RegistryError {
    const configured = this.upstreams.map((u) => u.name).join(', ');
    return new RegistryError(
      'NAME_UNKNOWN',
      `registry ${host} is not an upstream of this mirror (configured: ${configured})`,
      {},
      { registry: host.slice(0, 255) },
    );
  }
}

/** Once per state change: a down upstream is a warning (cached content is still served), recovery is info. */
function logHealthChange(log: Logger, upstream: string, change: HealthChange): void {
  if (change.up) log.info({ upstream, url: change.url }, 'upstream is up again');
  else
    log.warn(
      { upstream, url: change.url, reason: change.reason, nextProbeAt: new Date(change.nextProbeAt!).toISOString() },
      'upstream is down; serving cached content without asking it until a probe succeeds',
    );
}

/** Docker Hub keeps official images under `library/`; clients may leave it out. */
function remoteName(upstream: Upstream, name: string): string {
  return upstream.name === DOCKER_HUB && !name.includes('/') ? `library/${name}` : name;
}
