import { RegistryError } from '../oci/errors.js';

/** Which repositories an upstream may serve: glob patterns on the name at the upstream. */
export interface RepositoryRulesConfig {
  allow?: string[];
  deny?: string[];
}

/** `*` is any run of characters within one path component, `**` any run across them. */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
  return new RegExp(`^${body}$`);
}

/**
 * An upstream's allow and deny patterns. A deny match wins; with an allow list, a name must match
 * one of it. Checked before storage or the upstream are touched, so a denied repository is neither
 * fetched nor served from the cache.
 */
export class RepositoryRules {
  private readonly allow?: { glob: string; re: RegExp }[];
  private readonly deny: { glob: string; re: RegExp }[];

  constructor(
    private readonly upstream: string,
    config: RepositoryRulesConfig = {},
  ) {
    const compile = (globs: string[]) => globs.map((glob) => ({ glob, re: globToRegExp(glob) }));
    this.allow = config.allow && compile(config.allow);
    this.deny = compile(config.deny ?? []);
  }

  /** Throws 403 DENIED naming the rule when `name` (as the upstream names it) may not be served. */
  check(name: string): void {
    const denied = this.deny.find((r) => r.re.test(name));
    if (denied) throw this.denied(name, `matches upstreams.${this.upstream}.repositories.deny "${denied.glob}"`);
    if (this.allow && !this.allow.some((r) => r.re.test(name))) {
      throw this.denied(name, `matches none of upstreams.${this.upstream}.repositories.allow (${this.allow.map((r) => `"${r.glob}"`).join(', ')})`);
    }
  }

  private denied(name: string, why: string): RegistryError {
    return new RegistryError('DENIED', `repository ${name} is not served by this mirror: it ${why}`, {}, { name, upstream: this.upstream });
  }
}
