import { RegistryError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';

// Grammar from the OCI distribution spec.
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Docker caps names at 255 characters; longer ones are refused before anything else runs. */
export const MAX_NAME_LENGTH = 255;

export function validateName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', {}, { name: name.slice(0, MAX_NAME_LENGTH) });
  }
  return name;
}

/** A manifest reference: a tag or a digest. */
export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/**
 * A tag that breaks the grammar names nothing that can exist: 404 MANIFEST_UNKNOWN, as distribution
 * answers (its tag lookup finds nothing), not a 400. A digest of another algorithm likewise; a
 * malformed digest stays 400 DIGEST_INVALID.
 */
export function parseReference(reference: string): Reference {
  if (reference.includes(':')) return { kind: 'digest', digest: parseDigest(reference, 'MANIFEST_UNKNOWN') };
  if (!TAG.test(reference)) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown: not a valid tag', {}, { tag: reference.slice(0, 128) });
  return { kind: 'tag', tag: reference };
}
