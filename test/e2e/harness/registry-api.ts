import { sha256Digest } from './digest.js';
import { CLIENT_ACCEPT } from '../../fixtures/client-accept.js';
import { httpGet, type HttpResponse } from './http.js';

export interface FetchedManifest {
  /** sha256 of the body; compare with the Docker-Content-Digest header, not instead of it. */
  digest: string;
  /** The Content-Type header: OCI manifests may leave mediaType out of the JSON. */
  mediaType: string;
  raw: Buffer;
  response: HttpResponse;
}

/**
 * GET /v2/<repository>/manifests/<reference> from a plain-HTTP registry
 * (an UpstreamRegistry or the mirror). Throws with the status and body
 * unless it answers 200.
 */
export async function fetchManifest(baseUrl: string, repository: string, reference: string): Promise<FetchedManifest> {
  const url = `${baseUrl}/v2/${repository}/manifests/${reference}`;
  const response = expectOk(url, await httpGet(url, { headers: { accept: CLIENT_ACCEPT } }));
  return {
    digest: sha256Digest(response.body),
    mediaType: String(response.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim(),
    raw: response.body,
    response,
  };
}

/** GET /v2/_catalog: the repositories a registry lists. */
export async function fetchCatalog(baseUrl: string): Promise<string[]> {
  const url = `${baseUrl}/v2/_catalog`;
  const response = expectOk(url, await httpGet(url));
  return (JSON.parse(response.body.toString('utf8')) as { repositories: string[] }).repositories;
}

function expectOk(url: string, response: HttpResponse): HttpResponse {
  if (response.status !== 200) {
    throw new Error(`GET ${url}: HTTP ${response.status}: ${response.body.toString('utf8').slice(0, 500)}`);
  }
  return response;
}
