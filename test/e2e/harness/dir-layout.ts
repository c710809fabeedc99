import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Digest, sha256FileDigest } from './digest.js';

/**
 * What `skopeo copy … dir:<path>` wrote, read back without trusting it: skopeo's dir transport
 * keeps manifests byte for byte (an OCI layout would convert a Docker schema2 manifest), as
 * `manifest.json` (what the tag names: image manifest or index) and, with `--all`,
 * `<hex>.manifest.json` per image of the index; blobs as files named by their hex digest.
 */
export interface DirImage {
  /** sha256 of manifest.json. */
  digest: string;
  /** Digests of the per-instance manifests (`<hex>.manifest.json`), each checked against its bytes. */
  instances: string[];
  /** Blob name → sha256 of its bytes, both `sha256:<hex>`; equal when intact. */
  blobs: Map<string, string>;
}

export async function readDirImage(dir: string): Promise<DirImage> {
  const digest = sha256Digest(await readFile(join(dir, 'manifest.json')));
  const instances: string[] = [];
  const blobs = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    const instance = /^([0-9a-f]{64})\.manifest\.json$/.exec(name);
    if (instance) {
      const actual = sha256Digest(await readFile(join(dir, name)));
      if (actual !== `sha256:${instance[1]}`) throw new Error(`${dir}/${name} hashes to ${actual}`);
      instances.push(actual);
    } else if (/^[0-9a-f]{64}$/.test(name)) {
      blobs.set(`sha256:${name}`, await sha256FileDigest(join(dir, name)));
    }
  }
  return { digest, instances, blobs };
}
