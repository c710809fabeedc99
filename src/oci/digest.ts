import { createHash } from 'node:crypto';
import { RegistryError } from './errors.js';

const SHA256 = /^sha256:([a-f0-9]{64})$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** A validated sha256 digest. Other algorithms parse by the grammar but are refused as unsupported. */
export interface Digest {
  readonly algorithm: 'sha256';
  readonly hex: string;
  readonly value: string;
}

export function parseDigest(value: string): Digest {
  const m = SHA256.exec(value);
  if (m) return { algorithm: 'sha256', hex: m[1]!, value };
  const algorithm = value.split(':')[0];
  // `sha256:` with uppercase or too few hex digits is malformed, not an unknown algorithm.
  if (ANY_DIGEST.test(value) && algorithm !== 'sha256') {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm: ${algorithm}`);
  }
  throw new RegistryError('DIGEST_INVALID', 'invalid digest');
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
