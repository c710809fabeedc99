import { request as httpRequest } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pino, type Logger } from 'pino';
import { request } from 'undici';
import { configSchema, type Config } from '../../src/config.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';
import { FakeHub, type FakeHubOptions } from '../fixtures/fake-hub.js';

export interface MirrorUnderTest {
  hub: FakeHub;
  server: RunningServer;
  url: string;
  root: string;
  /** Every file under the storage root (temps included), once running fetches settled. */
  files(): Promise<string[]>;
  /** A GET as a client sends it: with CLIENT_ACCEPT unless `headers` names another `accept`. */
  get(path: string, headers?: Record<string, string>): Promise<HttpResult>;
  /** Sends the path byte for byte: no URL normalisation of `..` or `%2e%2e` on the client side. */
  getRaw(path: string): Promise<HttpResult>;
  close(): Promise<void>;
}

export interface HttpResult {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

function rawGet(port: number, path: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface MirrorOptions {
  hub?: FakeHubOptions;
  upstream?: Record<string, unknown>;
  cache?: Record<string, unknown>;
  now?: () => number;
  /** Where the mirror logs (default: silent). */
  log?: Logger;
  /** Other top-level config keys (log, debugListen, tls, …). */
  config?: Record<string, unknown>;
  /** Storage root (default: a new temp directory, removed on close). */
  root?: string;
  /** Wraps the filesystem driver (fault injection). */
  wrapStorage?: ServerOptions['wrapStorage'];
}

/** A fake Docker Hub and a mirror in front of it on a temp storage root, both on 127.0.0.1. */
export async function startMirror(opts: MirrorOptions = {}): Promise<MirrorUnderTest> {
  const hub = await FakeHub.start(opts.hub);
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'pt-api-')));
  const config: Config = configSchema.parse({
    listen: '127.0.0.1:0',
    storage: { driver: 'filesystem', filesystem: { root } },
    upstreams: [{ name: 'docker.io', url: hub.url, timeouts: { connect: '2s', headers: '2s', body: '2s' }, ...opts.upstream }],
    ...(opts.cache ? { cache: opts.cache } : {}),
    ...opts.config,
  });
  const server = await startServer(config, opts.log ?? pino({ level: 'silent' }), { now: opts.now, wrapStorage: opts.wrapStorage });
  const port = (server.server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    hub,
    server,
    url,
    root,
    files: async () => {
      // What is at rest: a blob is committed (or its temp removed) after its response ended.
      await server.mirror.blobs.settled();
      const entries = await readdir(root, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)))
        .sort();
    },
    get: async (path, headers = {}) => {
      const res = await request(`${url}${path}`, { headers: { accept: CLIENT_ACCEPT, ...headers } });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body };
    },
    getRaw: (path) => rawGet(port, path),
    close: async () => {
      await server.close(100);
      await hub.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * Pulls `name:tag` as docker does, the manifest and then each blob it names (each a 200), and
 * waits for the commits, which follow the responses; resolves with the blobs' digests.
 */
export async function pullImage(m: MirrorUnderTest, name: string, tag = '1'): Promise<string[]> {
  const manifest = await m.get(`/v2/${name}/manifests/${tag}`);
  expect(manifest.status).toBe(200);
  const body = json(manifest.body) as { config: { digest: string }; layers: { digest: string }[] };
  const digests = [body.config.digest, ...body.layers.map((l) => l.digest)];
  for (const digest of digests) expect((await m.get(`/v2/${name}/blobs/${digest}`)).status).toBe(200);
  await m.server.mirror.blobs.settled();
  return digests;
}

export function json(body: Buffer): any {
  return JSON.parse(body.toString('utf8'));
}
