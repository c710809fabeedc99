import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { request } from 'undici';
import type { MirrorUnderTest } from '../api/mirror-harness.js';

/** What a client saw: a status and the whole body, or the error that cut the response short. */
export interface Download {
  status: number;
  headers: Record<string, unknown>;
  bytes?: Buffer;
  /** Set when the connection broke mid-response (a short read against Content-Length). */
  error?: unknown;
}

/** GETs (or HEADs) a URL to the end; a broken response resolves with `error`, never throws. */
export async function download(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Download> {
  let status = 0;
  let resHeaders: Record<string, unknown> = {};
  try {
    const res = await request(url, { method, headers });
    status = res.statusCode;
    resHeaders = res.headers;
    return { status, headers: resHeaders, bytes: Buffer.from(await res.body.arrayBuffer()) };
  } catch (error) {
    return { status, headers: resHeaders, error };
  }
}

/** A GET that reads until `stopAfter` bytes arrived, then does `then` with its connection. */
export function partialGet(url: string, stopAfter: number, then: (req: ClientRequest, res: IncomingMessage) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= stopAfter) {
          res.removeAllListeners('data');
          then(req, res);
          resolve(got);
        }
      });
      res.on('error', () => undefined);
      res.on('end', () => resolve(got));
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
  });
}

/** The OCI error code of a JSON error body, or undefined. */
export function errorCode(d: Download): string | undefined {
  try {
    return JSON.parse(d.bytes!.toString('utf8')).errors[0].code as string;
  } catch {
    return undefined;
  }
}

/** A failed download as a client sees it: an OCI error status, or a connection cut mid-body. */
export function failed(d: Download): boolean {
  return d.error !== undefined || d.status >= 400;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// The storage layout (src/storage/paths.ts), as patterns for every file that may exist.
const NAME = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*';
const HOST = '[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(_\\d+)?';
const LAYOUT = [
  /^blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})$/,
  new RegExp(`^repositories/${HOST}/${NAME}/_manifests/sha256/[0-9a-f]{64}$`),
  new RegExp(`^repositories/${HOST}/${NAME}/_tags/[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`),
  /^_state\/usage\.json$/,
];

export interface StorageAudit {
  files: string[];
  /** Files under _tmp/: a temp nobody removed. */
  temps: string[];
  /** Blob files whose bytes do not hash to their name: corrupt content that would be served. */
  corrupt: string[];
  /** Files that fit no part of the layout. */
  outside: string[];
}

/** Walks a storage root: every file classified, every blob re-hashed. */
export async function auditStorage(root: string): Promise<StorageAudit> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  const files = entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
  const audit: StorageAudit = { files, temps: [], corrupt: [], outside: [] };
  for (const file of files) {
    if (file.startsWith('_tmp/')) {
      audit.temps.push(file);
      continue;
    }
    const blob = LAYOUT[0]!.exec(file);
    if (blob) {
      if (blob[1] !== blob[2]!.slice(0, 2) || sha256(await readFile(join(root, file))) !== blob[2]) audit.corrupt.push(file);
      continue;
    }
    if (!LAYOUT.some((p) => p.test(file))) audit.outside.push(file);
  }
  return audit;
}

/** The blob's file, as the filesystem driver names it. */
export function blobFile(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
}

/**
 * Nothing wrong stored: no temp left, no blob whose bytes differ from its digest, nothing outside
 * the layout, and (given) no file at all for the digests that failed. Waits for running fetches to
 * settle first: a failed fetch removes its temp on its way out.
 */
export async function expectNothingWrongStored(m: MirrorUnderTest, ...absent: string[]): Promise<StorageAudit> {
  await until('fetches to settle', () => m.server.mirror.blobs.inflight === 0);
  const audit = await auditStorage(m.root);
  expect({ temps: audit.temps, corrupt: audit.corrupt, outside: audit.outside }).toEqual({ temps: [], corrupt: [], outside: [] });
  for (const digest of absent) expect(audit.files).not.toContain(blobFile(digest));
  return audit;
}

/** Polls until `probe` is truthy; fails after `ms` (a bound on "eventually", not a timing assertion). */
export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; ;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `n` concurrent downloads of one URL. */
export function herd(n: number, url: string, headers: Record<string, string> = {}): Promise<Download[]> {
  return Promise.all(Array.from({ length: n }, () => download(url, headers)));
}

/** Short upstream timeouts, so hangs turn into errors within a test's bounds. */
export const SHORT_TIMEOUTS = { timeouts: { connect: '1s', headers: '300ms', body: '300ms' } };
