import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { s3StorageSchema } from './storage/s3-config.js';
import { durationSchema, sizeSchema } from './units.js';

const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d+)?$/;

const upstreamSchema = z.strictObject({
  /** The registry host clients know (`docker.io`, `ghcr.io`): matched against `?ns=` and path prefixes, and names the upstream's folder in storage. */
  name: z.string().regex(HOST, 'must be a registry host name such as docker.io or ghcr.io'),
  /** Where bytes come from, e.g. https://registry-1.docker.io. */
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    // Credentials in the URL would show in the startup log and /readyz: they belong in username/passwordFile.
    .refine((u) => { const { username, password } = new URL(u); return !username && !password; }, 'must not carry credentials: use username and passwordFile')
    .transform((u) => u.replace(/\/+$/, '')),
  /** Optional credentials; the secret from `password` or, better, `passwordFile`. */
  username: z.string().optional(),
  password: z.string().optional(),
  passwordFile: z.string().optional(),
  /** A cached tag younger than this is served with no upstream request (ms; accepts "5m"). */
  tagTTL: durationSchema.default(5 * 60_000),
  /** Tags matching this pattern are never revalidated once cached (e.g. '^v?\d+\.\d+\.\d+$'). */
  immutableTags: z
    .string()
    .refine((s) => { try { new RegExp(s); return true; } catch { return false; } }, 'must be a valid regular expression')
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
});

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
    realm: z.string().regex(/^[\x20-\x7e]*$/, 'must be printable ASCII').refine((r) => !r.includes('"'), 'must not contain quotes').default('pullthrough'),
  })
  .refine((a) => a.htpasswd !== undefined || a.tokens.length > 0 || a.tokensFile !== undefined, 'set htpasswd, tokens or tokensFile, or leave auth out');

export const configSchema = z.strictObject({
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
       * is cached at start plus 80% of the free space then; on S3, unbounded. `none`: never evict.
       */
      maxSize: z.union([z.literal('auto'), z.literal('none'), sizeSchema]).default('auto'),
      /** Filesystem: also evict while free space is under this. */
      minFreeSpace: sizeSchema.optional(),
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

/**
 * Reads the YAML file (the default one only if present), applies flags, then environment
 * (PULLTHROUGH_* and registry:2's REGISTRY_PROXY_* so a `registry:2` setup keeps working), and
 * validates the result once. Any problem throws ConfigError naming the key.
 */
export function loadConfig(file: string | undefined, flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const path = file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  const raw = path ? readYaml(path) : {};
  apply(raw, flags);
  apply(raw, {
    listen: env.PULLTHROUGH_LISTEN,
    debugListen: env.PULLTHROUGH_DEBUG_LISTEN,
    storage: env.PULLTHROUGH_STORAGE,
    upstream: env.PULLTHROUGH_UPSTREAM ?? env.REGISTRY_PROXY_REMOTEURL,
    username: env.REGISTRY_PROXY_USERNAME,
    password: env.REGISTRY_PROXY_PASSWORD,
    logLevel: env.PULLTHROUGH_LOG_LEVEL,
  });
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const first = result.error.issues[0]!;
    const key = first.path.join('.') || '(top level)';
    throw new ConfigError(`invalid config${path ? ` in ${path}` : ''}: ${key}: ${first.message}`);
  }
  for (const u of result.data.upstreams) {
    if (u.passwordFile) u.password = readSecret(u.passwordFile, `upstreams.${u.name}.passwordFile`);
  }
  return result.data;
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

interface Overrides extends ConfigFlags {
  username?: string;
  password?: string;
}

/** Applies overrides to the raw document before validation, so validation names their keys too. */
function apply(raw: Record<string, unknown>, o: Overrides): void {
  if (o.listen) raw.listen = o.listen;
  if (o.debugListen) raw.debugListen = o.debugListen;
  if (o.storage) raw.storage = { driver: 'filesystem', filesystem: { root: o.storage } };
  if (o.logLevel) raw.log = { ...(raw.log as object), level: o.logLevel };
  if (o.upstream || o.username || o.password) {
    const list = Array.isArray(raw.upstreams) && raw.upstreams.length > 0 ? (raw.upstreams as Record<string, unknown>[]) : [{ name: 'docker.io' }];
    const first = { ...list[0] };
    if (o.upstream) first.url = o.upstream;
    if (o.username) first.username = o.username;
    if (o.password) first.password = o.password;
    if (!first.url) first.url = 'https://registry-1.docker.io';
    raw.upstreams = [first, ...list.slice(1)];
  }
}
