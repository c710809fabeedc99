import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { s3StorageSchema } from './storage/s3-config.js';
import { durationSchema, sizeSchema } from './units.js';

const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d+)?$/;

/** Where an upstream's bytes come from, e.g. https://registry-1.docker.io. */
/** TLS to a server (an upstream, Redis): extra trusted CAs, a client certificate, or no check at all. */
const tlsSchema = z
  .strictObject({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    insecureSkipVerify: z.boolean().default(false),
  })
  .refine((t) => (t.cert === undefined) === (t.key === undefined), 'set cert and key together');

const upstreamUrl = z
  // abort: the refine below must not run new URL() on a string that is no URL at all.
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://registry-1.docker.io', abort: true })
  // Credentials in the URL would show in the startup log and /readyz: they belong in username/passwordFile.
  .refine((u) => {
    const { username, password } = new URL(u);
    return !username && !password;
  }, 'must not carry credentials: use username and passwordFile')
  .transform((u) => u.replace(/\/+$/, ''));

const upstreamSchema = z
  .strictObject({
    /** The registry host clients know (`docker.io`, `ghcr.io`): matched against `?ns=` and path prefixes, and names the upstream's folder in storage. */
    name: z.string().regex(HOST, 'must be a registry host name such as docker.io or ghcr.io'),
    /** Where bytes come from, e.g. https://registry-1.docker.io. After parsing: the first of `urls`. */
    url: upstreamUrl.optional(),
    /** Instead of `url`: a primary and fallbacks, tried in order when one is down, each with its own health. */
    urls: z.array(upstreamUrl).min(1).optional(),
    /**
     * An HTTP(S) proxy for every request to this upstream, e.g. http://user:pw@proxy:3128; absent:
     * HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment apply.
     */
    proxy: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://proxy.internal:3128' }).optional(),
    /**
     * TLS to this upstream: `ca`, a PEM bundle trusted besides the system's; `cert` and `key`, a
     * client certificate (mutual TLS); `insecureSkipVerify`, no certificate check at all (warned at
     * start and shown on /readyz).
     */
    tls: tlsSchema.optional(),
    /**
     * Which repositories this upstream may serve, as globs on the name at the upstream (`library/*`,
     * `myorg/**`): a `deny` match is refused, and with `allow` a name must match one. Refused: 403 DENIED.
     */
    repositories: z.strictObject({ allow: z.array(z.string().min(1)).optional(), deny: z.array(z.string().min(1)).optional() }).optional(),
    /** Optional credentials; the secret from `password` or, better, `passwordFile`. */
    username: z.string().optional(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    /** A cached tag younger than this is served with no upstream request (ms; accepts "5m"). */
    tagTTL: durationSchema.default(5 * 60_000),
    /**
     * Past tagTTL, `background` (default) answers with the cached tag at once and revalidates behind
     * it, so a slow upstream never delays a cached pull; `wait` revalidates first, so a moved tag is
     * seen by the very next pull.
     */
    tagRevalidation: z.enum(['background', 'wait']).default('background'),
    /** An upstream 404 for a manifest or tag is answered from memory this long (ms; accepts "30s"; 0: off). */
    notFoundTTL: durationSchema.default(30_000),
    /** Tags matching this pattern are never revalidated once cached (e.g. '^v?\d+\.\d+\.\d+$'). */
    immutableTags: z
      .string()
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, 'must be a valid regular expression')
      .optional(),
    /** Connect, response-header, idle-body and whole-blob timeouts for this upstream (ms; accept "10s"). */
    timeouts: z
      .strictObject({
        connect: durationSchema.default(10_000),
        headers: durationSchema.default(30_000),
        body: durationSchema.default(60_000),
        /**
         * A blob fetch's overall deadline, from its request to its last byte. It runs whether or not
         * any client reads, so a stalled transfer cannot hold a digest forever.
         */
        blob: durationSchema.default(3_600_000),
      })
      .default({ connect: 10_000, headers: 30_000, body: 60_000, blob: 3_600_000 }),
    /**
     * After a failure (no answer, 5xx, 429) the upstream is held down: requests with a cached answer
     * get it without asking. Recovery is probed by one request after `probeInitial`, doubling up to
     * `probeMax` (ms; accept "2s").
     */
    health: z
      .strictObject({ probeInitial: durationSchema.default(2_000), probeMax: durationSchema.default(120_000) })
      .default({ probeInitial: 2_000, probeMax: 120_000 }),
  })
  .refine((u) => (u.url === undefined) !== (u.urls === undefined), { error: 'set one of url and urls', path: ['url'] })
  // Both given after parsing: `url` (the primary, for messages) and `urls` (what is tried).
  .transform((u) => ({ ...u, url: u.url ?? u.urls![0]!, urls: u.urls ?? [u.url!] }));

const storageSchema = z.discriminatedUnion('driver', [
  z.strictObject({
    driver: z.literal('filesystem'),
    filesystem: z.strictObject({ root: z.string().min(1).default('./storage') }).default({ root: './storage' }),
  }),
  s3StorageSchema,
]);

/**
 * Client authentication for the mirror itself; absent (the default): anyone who can reach it may
 * pull, right on a private network. With it, every /v2/ request needs `Authorization`: Basic for an
 * htpasswd user (what `docker login` / `podman login` send), or Bearer with a static token.
 */
const authSchema = z
  .strictObject({
    /** An htpasswd file with bcrypt entries (`htpasswd -nbB user pass`); read at start. */
    htpasswd: z.string().min(1).optional(),
    /** Static bearer tokens; better kept out of the config file in `tokensFile`. */
    tokens: z.array(z.string().min(16, 'must be at least 16 characters')).default([]),
    /** A file with one static token per line (blank lines and `#` comments ignored); read at start. */
    tokensFile: z.string().min(1).optional(),
    /** The realm named in the `WWW-Authenticate: Basic` challenge. */
    realm: z
      .string()
      .regex(/^[\x20-\x7e]*$/, 'must be printable ASCII')
      .refine((r) => !r.includes('"'), 'must not contain quotes')
      .default('pullthrough'),
  })
  .refine((a) => a.htpasswd !== undefined || a.tokens.length > 0 || a.tokensFile !== undefined, 'set htpasswd, tokens or tokensFile, or leave auth out');

/** Where cluster mode's Redis is: redis:// or rediss:// (TLS), credentials in the URL or in `passwordFile`. */
const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL such as redis://redis:6379/0' });

/**
 * Replicas on one bucket acting as one cache: one upstream fetch per blob, manifest and tag
 * revalidation across them (a lease per key in Redis). Absent: each replica works alone. Redis
 * down or slow: each replica works alone until it answers again, and /readyz says degraded.
 * `redis: redis://…` is short for `redis: { url: redis://… }`.
 */
const clusterSchema = z.strictObject({
  redis: z.preprocess(
    (v) => (typeof v === 'string' ? { url: v } : v),
    z.strictObject({
      url: redisUrl,
      /** The password (the URL's user, if any, is kept), read from this file at start instead of the URL. */
      passwordFile: z.string().min(1).optional(),
      /** After parsing: the password from passwordFile, if set. */
      password: z.string().optional(),
      /** Every key this cluster writes starts with this, so several mirrors can share one Redis. */
      keyPrefix: z.string().default('pullthrough:'),
      /**
       * TLS to Redis (with rediss://): `ca`, a PEM file trusted besides the system's; `cert` and
       * `key`, a client certificate; `insecureSkipVerify`, no certificate check (warned at start).
       */
      tls: tlsSchema.optional(),
      /**
       * How long a lease holds without a heartbeat (ms; accepts "30s"): a replica that dies
       * mid-fetch is taken over by another within this. Heartbeats run every third of it.
       */
      leaseTime: durationSchema.refine((ms) => ms >= 1_000, 'must be at least 1s').default(30_000),
    }),
  ),
});

export const configSchema = z
  .strictObject({
    /** host:port, [v6]:port or :port. `[::]` listens on IPv4 and IPv6. */
    listen: z.string().default('[::]:5000'),
    storage: storageSchema.default({ driver: 'filesystem', filesystem: { root: './storage' } }),
    /** The first upstream is the default for requests that name none. */
    upstreams: z
      .array(upstreamSchema)
      .min(1)
      .refine((u) => new Set(u.map((x) => x.name)).size === u.length, 'upstream names must be unique')
      // prefault, not default: the default is parsed like any input, so it gets tagTTL and timeouts.
      .prefault([{ name: 'docker.io', url: 'https://registry-1.docker.io' }]),
    cache: z
      .strictObject({
        /**
         * Evict least-recently-used images past this size. `auto` (default): on the filesystem, what
         * is cached at start plus 80% of the free space then; on S3, unbounded (a size, for the bucket as
         * a whole, needs cluster.redis). `none`: never evict.
         */
        maxSize: z.union([z.literal('auto'), z.literal('none'), sizeSchema]).default('auto'),
        /** Filesystem: also evict while free space is under this. */
        minFreeSpace: sizeSchema.optional(),
        /** Evict images not pulled for longer than this (ms; accepts "30d"), as distribution's proxy `ttl`. Off when absent. */
        maxAge: durationSchema.refine((ms) => ms >= 60_000, 'must be at least 1m').optional(),
      })
      .default({ maxSize: 'auto' }),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Identical error lines within this window are counted, then summarised once ("repeated N times"). */
        repeatWindow: durationSchema.default(60_000),
      })
      .default({ level: 'info', repeatWindow: 60_000 }),
    /** Optional second listener (plain HTTP) serving only /metrics, /healthz and /readyz, e.g. "127.0.0.1:9090". */
    debugListen: z.string().optional(),
    /** Serve HTTPS on `listen` with this PEM certificate (chain) and key. */
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    /** On SIGTERM/SIGINT, running responses get this long to finish before they and their fetches are aborted. */
    shutdownTimeout: durationSchema.default(10_000),
    /** A client must send its complete request headers within this (slowloris bound); bodies are not limited. */
    headersTimeout: durationSchema.refine((ms) => ms >= 100, 'must be at least 100ms').default(20_000),
    /** Client authentication (htpasswd users, static bearer tokens); off when absent. */
    auth: authSchema.optional(),
    /** Cluster mode on Redis (single flight across replicas); off when absent. */
    cluster: clusterSchema.optional(),
  })
  .superRefine((c, ctx) => {
    // Without cluster mode each replica evicts by its own view of a shared bucket (digests it never saw
    // look oldest, the others' deletions never lower its total): refused rather than silently evicting
    // the newest images. With cluster.redis the view is the cluster's (src/cluster/usage.ts).
    if (c.storage.driver === 's3' && c.cache.maxAge !== undefined && !c.cluster) {
      ctx.addIssue({
        code: 'custom',
        path: ['cache', 'maxAge'],
        message:
          'not supported on S3 (a replica cannot see the pulls the others serve, so it would evict images still in use); ' +
          'set cluster.redis (replicas then share access times), use a bucket lifecycle rule, or `pullthrough purge` from one place',
      });
    }
    if (c.storage.driver === 's3' && typeof c.cache.maxSize === 'number' && !c.cluster) {
      ctx.addIssue({
        code: 'custom',
        path: ['cache', 'maxSize'],
        message:
          "an explicit size is not supported on S3 (replicas sharing the bucket would evict each other's images); " +
          'set cluster.redis (replicas then evict as one), or use maxSize: none and bound the bucket with a scheduled `pullthrough gc` (or a bucket lifecycle rule)',
      });
    }
  });

export type Config = z.output<typeof configSchema>;
export type UpstreamConfig = Config['upstreams'][number];

/** Overrides from the command line; each replaces what the file says. */
export interface ConfigFlags {
  listen?: string;
  debugListen?: string;
  storage?: string;
  upstream?: string;
  logLevel?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../config/default.yaml', import.meta.url));

/** A config and where its settings came from. */
export interface LoadedConfig {
  config: Config;
  /** The file read, if any. */
  file?: string;
  /** Environment variables that set something, each with the key it set (for the start line). */
  environment: Record<string, string>;
}

/**
 * The settings a flag or the environment can give, with the key each sets, its flag and its
 * variables (later ones win). registry:2's REGISTRY_PROXY_* are here so a `registry:2` setup keeps working.
 */
const OVERRIDES = {
  listen: { key: 'listen', flag: '--listen', env: ['PULLTHROUGH_LISTEN'] },
  debugListen: { key: 'debugListen', flag: '--debug-listen', env: ['PULLTHROUGH_DEBUG_LISTEN'] },
  storage: { key: 'storage.filesystem.root', flag: '--storage', env: ['PULLTHROUGH_STORAGE'] },
  logLevel: { key: 'log.level', flag: '--log-level', env: ['PULLTHROUGH_LOG_LEVEL'] },
  upstream: { key: 'upstreams.0.url', flag: '--upstream', env: ['REGISTRY_PROXY_REMOTEURL', 'PULLTHROUGH_UPSTREAM'] },
  username: { key: 'upstreams.0.username', flag: undefined, env: ['REGISTRY_PROXY_USERNAME'] },
  password: { key: 'upstreams.0.password', flag: undefined, env: ['REGISTRY_PROXY_PASSWORD'] },
  clusterRedis: { key: 'cluster.redis.url', flag: undefined, env: ['PULLTHROUGH_CLUSTER_REDIS'] },
} as const;

type Setting = keyof typeof OVERRIDES;

/** One value to lay over the file, and who gave it: "--upstream", "environment variable PULLTHROUGH_UPSTREAM". */
interface Override {
  setting: Setting;
  value: string;
  source: string;
}

/** Reads the config like resolveConfig, for callers that need only the result. */
export function loadConfig(file: string | undefined, flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  return resolveConfig(file, flags, env).config;
}

/**
 * Reads the YAML file (the default one only if present), applies flags, then the environment, and
 * validates the result once. Any problem throws ConfigError naming where the bad value came from
 * (the file, the flag or the variable), the key and the value.
 */
export function resolveConfig(file: string | undefined, flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  const raw = path ? readYaml(path) : {};
  const overrides: Override[] = [];
  for (const [setting, o] of Object.entries(OVERRIDES) as [Setting, (typeof OVERRIDES)[Setting]][]) {
    const flag = o.flag === undefined ? undefined : flags[setting as keyof ConfigFlags];
    if (flag) overrides.push({ setting, value: flag, source: o.flag! });
  }
  for (const [setting, o] of Object.entries(OVERRIDES) as [Setting, (typeof OVERRIDES)[Setting]][]) {
    const name = [...o.env].reverse().find((n) => env[n]);
    if (name) overrides.push({ setting, value: env[name]!, source: `environment variable ${name}` });
  }
  for (const o of overrides) apply(raw, o);

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.join('.');
    // The last override of a key is the one that stayed in the document.
    const given = [...overrides].reverse().find((o) => key === OVERRIDES[o.setting].key || key.startsWith(`${OVERRIDES[o.setting].key}.`));
    const source = given?.source ?? (path ? `in ${path}` : 'in the defaults');
    const value = valueAt(raw, issue.path);
    throw new ConfigError(
      `invalid config ${given ? `from ${source}` : source}: ${key || '(top level)'}: ${issue.message}${value === undefined ? '' : ` (got ${showValue(key, value)})`}`,
    );
  }
  for (const u of result.data.upstreams) {
    if (u.passwordFile) u.password = readSecret(u.passwordFile, `upstreams.${u.name}.passwordFile`);
  }
  const redis = result.data.cluster?.redis;
  if (redis?.passwordFile) redis.password = readSecret(redis.passwordFile, 'cluster.redis.passwordFile');
  const environment: Record<string, string> = {};
  for (const o of overrides)
    if (o.source.startsWith('environment variable ')) environment[o.source.slice('environment variable '.length)] = OVERRIDES[o.setting].key;
  return { config: result.data, file: path, environment };
}

function readYaml(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    const doc: unknown = parseYaml(text) ?? {};
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('top level must be a mapping');
    return doc as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`invalid YAML in ${path}: ${(err as Error).message}`);
  }
}

function readSecret(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`invalid config: ${key}: ${(err as Error).message}`);
  }
}

/** Lays one override over the raw document before validation, so validation names its key too. */
function apply(raw: Record<string, unknown>, { setting, value }: Override): void {
  switch (setting) {
    case 'listen':
    case 'debugListen':
      raw[setting] = value;
      return;
    case 'storage':
      raw.storage = { driver: 'filesystem', filesystem: { root: value } };
      return;
    case 'logLevel':
      raw.log = { ...(raw.log as object), level: value };
      return;
    case 'clusterRedis': {
      const cluster = (raw.cluster ?? {}) as Record<string, unknown>;
      const redis = typeof cluster.redis === 'object' && cluster.redis !== null ? cluster.redis : {};
      raw.cluster = { ...cluster, redis: { ...redis, url: value } };
      return;
    }
    default: {
      const list = Array.isArray(raw.upstreams) && raw.upstreams.length > 0 ? (raw.upstreams as Record<string, unknown>[]) : [{ name: 'docker.io' }];
      const first = { ...(list[0]?.urls ? {} : { url: 'https://registry-1.docker.io' }), ...list[0], [setting === 'upstream' ? 'url' : setting]: value };
      raw.upstreams = [first, ...list.slice(1)];
    }
  }
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let at = raw;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/** The bad value as the user wrote it, short, with secrets (and credentials in URLs) left out. */
function showValue(key: string, value: unknown): string {
  if (/password|secret|token/i.test(key)) return '[redacted]';
  if (typeof value === 'string' && /^[a-z]+:\/\/[^/@]*@/i.test(value)) return JSON.stringify(value.replace(/\/\/[^/@]*@/, '//[redacted]@'));
  // JSON.stringify(undefined) is undefined, which lib.d.ts does not say.
  const text = (JSON.stringify(value) as string | undefined) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
