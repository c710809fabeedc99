/**
 * What every client's config is made from: the mirror's URL, checked once, and the upstream
 * registry names it should stand in front of.
 */

export class ClientConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientConfigError';
  }
}

/** The mirror as clients address it. */
export interface MirrorUrl {
  /** `http://mirror.internal:5000`, plus any path a reverse proxy puts it under; no trailing `/` or `/v2`. */
  readonly base: string;
  /** `mirror.internal:5000` (the port only when not the scheme's default), plus any path: registries.conf and daemon.json want no scheme. */
  readonly hostPath: string;
  /** `mirror.internal:5000`: what docker's `insecure-registries` lists. */
  readonly host: string;
  /** Plain HTTP: docker and podman must be told the mirror is insecure to use it at all. */
  readonly plainHttp: boolean;
}

/** What a generator needs besides the mirror; options are already validated. */
export interface ClientConfigOptions {
  mirror: MirrorUrl;
  /** Registry hosts clients name in image references, e.g. `docker.io`, `ghcr.io`; at least one, no duplicates. */
  upstreams: readonly string[];
  /** Skip TLS verification (and, for docker and podman, allow plain HTTP). */
  insecure: boolean;
  /** containerd: `[host."<mirror>/v2"]` with `override_path = true` (default), or `[host."<mirror>"]` and containerd adds `/v2`. */
  overridePath: boolean;
}

/** One file a client reads, at the absolute path it reads it from. */
export interface ClientFile {
  path: string;
  content: string;
}

export interface ClientConfig {
  files: ClientFile[];
  /** What else to do or know (merge, restart, limits), one sentence each. */
  notes: string[];
}

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually lives; `docker.io` itself only redirects browsers. */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';

// A registry host as image references write it (lower case, optional port); same shape as config.ts accepts for upstream names.
const REGISTRY_HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d+)?$/;

/**
 * Parses `--mirror`: an absolute http(s) URL with no credentials, query or fragment. A trailing
 * `/v2` is dropped, since each generator adds the API path in the form its client wants.
 */
export function parseMirrorUrl(text: string): MirrorUrl {
  const example = 'e.g. http://mirror.internal:5000 or https://mirror.example.com';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClientConfigError(`--mirror must be an http:// or https:// URL (${example}), got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientConfigError(`--mirror must be an http:// or https:// URL (${example}), got ${JSON.stringify(text)}`);
  }
  if (url.username || url.password) throw new ClientConfigError('--mirror must not carry credentials: clients log in to a mirror separately');
  if (url.search || url.hash) throw new ClientConfigError(`--mirror must not have a query or fragment, got ${JSON.stringify(text)}`);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v2$/, '');
  return {
    base: `${url.protocol}//${url.host}${path}`,
    hostPath: `${url.host}${path}`,
    host: url.host,
    plainHttp: url.protocol === 'http:',
  };
}

/** Checks and de-duplicates `--upstream` names, keeping their order; `docker.io` when none is given. */
export function parseUpstreams(names: readonly string[]): string[] {
  if (names.length === 0) return [DOCKER_HUB];
  const seen: string[] = [];
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    if (!REGISTRY_HOST.test(name)) {
      throw new ClientConfigError(`--upstream must be a registry host name such as docker.io or ghcr.io, got ${JSON.stringify(raw)}`);
    }
    if (!seen.includes(name)) seen.push(name);
  }
  return seen;
}

/** TOML basic string. JSON's escapes (\" \\ \n \uXXXX) are all valid TOML, and hosts and URLs need none of the rest. */
export function tomlString(value: string): string {
  return JSON.stringify(value);
}
