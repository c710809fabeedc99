import { createHash } from 'node:crypto';
import { RegistryError } from './errors.js';

const SHA256 = /^sha256:([a-f0-9]{64})$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** A validated sha256 digest. Other algorithms parse by the grammar but are content the mirror cannot hold. */
export interface Digest {
  readonly algorithm: 'sha256';
  readonly hex: string;
  readonly value: string;
}

/**
 * A sha256 digest, or the error for one that cannot be: malformed is 400 DIGEST_INVALID; well formed
 * in another algorithm (`sha512:…`) is content the mirror never stores, so it is `unknown`
 * (404 BLOB_UNKNOWN for blobs, MANIFEST_UNKNOWN for manifests), as distribution answers a digest it does not hold.
 */
export function parseDigest(value: string, unknown: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN' = 'BLOB_UNKNOWN'): Digest {
  const m = SHA256.exec(value);
  if (m) return { algorithm: 'sha256', hex: m[1]!, value };
  const algorithm = value.split(':')[0];
  // `sha256:` with uppercase or too few hex digits is malformed, not an unknown algorithm.
  if (ANY_DIGEST.test(value) && algorithm !== 'sha256') {
    const what = unknown === 'BLOB_UNKNOWN' ? 'blob' : 'manifest';
    throw new RegistryError(unknown, `${what} unknown: the mirror stores sha256 content only, not ${algorithm}`, {}, { digest: value.slice(0, 200) });
  }
  throw new RegistryError('DIGEST_INVALID', 'invalid digest');
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
