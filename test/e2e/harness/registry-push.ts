import { request } from 'node:http';
import { sha256Digest } from './digest.js';
import { httpGet } from './http.js';

/** An OCI descriptor: what a manifest says about a blob or another manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A manifest as pushed: its exact bytes, digest and media type, and the blobs it names. */
export interface PushedManifest extends Descriptor {
  bytes: Buffer;
  blobs: Descriptor[];
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(method: 'POST' | 'PUT', url: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: { ...headers, 'content-length': String(body.length), connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function expectStatus(what: string, answer: Answer, status: number): Answer {
  if (answer.status !== status) throw new Error(`${what}: HTTP ${answer.status}: ${answer.body.toString('utf8').slice(0, 500)}`);
  return answer;
}

/**
 * Pushes to a plain-HTTP registry with the distribution API, as oras, cosign and helm do for
 * content skopeo has no transport for: blobs by a monolithic upload, manifests by PUT.
 */
export class RegistryPusher {
  constructor(
    /** e.g. http://127.0.0.1:5000 */
    private readonly baseUrl: string,
    readonly repository: string,
  ) {}

  /** POST an upload, PUT the bytes with their digest; returns the blob's descriptor. */
  async blob(bytes: Buffer | string, mediaType: string): Promise<Descriptor> {
    const body = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const digest = sha256Digest(body);
    const started = expectStatus(
      `upload to ${this.repository}`,
      await send('POST', `${this.baseUrl}/v2/${this.repository}/blobs/uploads/`, Buffer.alloc(0)),
      202,
    );
    const location = new URL(String(started.headers.location), this.baseUrl);
    location.searchParams.set('digest', digest);
    expectStatus(`blob ${digest}`, await send('PUT', location.toString(), body, { 'content-type': 'application/octet-stream' }), 201);
    return { mediaType, digest, size: body.length };
  }

  /** PUTs the manifest under `reference` (a tag, or its own digest when undefined). */
  async manifest(manifest: object, reference?: string): Promise<PushedManifest> {
    const bytes = Buffer.from(JSON.stringify(manifest));
    const fields = manifest as { mediaType: string; artifactType?: string; config?: Descriptor; layers?: Descriptor[] };
    const digest = sha256Digest(bytes);
    const url = `${this.baseUrl}/v2/${this.repository}/manifests/${reference ?? digest}`;
    const answer = expectStatus(`manifest ${this.repository}:${reference ?? digest}`, await send('PUT', url, bytes, { 'content-type': fields.mediaType }), 201);
    const stored = answer.headers['docker-content-digest'];
    if (stored !== digest) throw new Error(`registry stored ${this.repository}:${reference} as ${String(stored)}, pushed ${digest}`);
    const blobs = [...(fields.config ? [fields.config] : []), ...(fields.layers ?? [])];
    const artifactType = fields.artifactType ?? fields.config?.mediaType;
    return { mediaType: fields.mediaType, digest, size: bytes.length, bytes, blobs, ...(artifactType ? { artifactType } : {}) };
  }
}

/** A manifest and every blob it names, fetched from a registry (the mirror), each checked against its digest. */
export interface VerifiedPull {
  contentType: string;
  contentDigest: string;
  bytes: Buffer;
  blobs: Map<string, Buffer>;
}

/**
 * GETs `reference` from `baseUrl` accepting `mediaType` as a client of that artifact would, then
 * each of `blobs`; throws unless every body hashes to the digest it was asked by.
 */
export async function pullVerified(
  baseUrl: string,
  repository: string,
  reference: string,
  mediaType: string,
  blobs: readonly Descriptor[],
): Promise<VerifiedPull> {
  const url = `${baseUrl}/v2/${repository}/manifests/${reference}`;
  const res = await httpGet(url, { headers: { accept: mediaType } });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
  const fetched = new Map<string, Buffer>();
  for (const blob of blobs) {
    const blobUrl = `${baseUrl}/v2/${repository}/blobs/${blob.digest}`;
    const got = await httpGet(blobUrl);
    if (got.status !== 200) throw new Error(`GET ${blobUrl}: HTTP ${got.status}`);
    if (sha256Digest(got.body) !== blob.digest) throw new Error(`GET ${blobUrl}: body hashes to ${sha256Digest(got.body)}`);
    fetched.set(blob.digest, got.body);
  }
  return {
    contentType: String(res.headers['content-type'] ?? ''),
    contentDigest: String(res.headers['docker-content-digest'] ?? ''),
    bytes: res.body,
    blobs: fetched,
  };
}
