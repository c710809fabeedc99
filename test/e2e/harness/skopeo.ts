import { run } from './run.js';

/** Long enough for a 200 MB layer through two hops on a slow CI disk; stops a hung copy from outliving the test. */
const SKOPEO_TIMEOUT_MS = 5 * 60_000;

/** Manifest types skopeo can convert to: OCI image manifest, Docker schema2. */
export type ManifestFormat = 'oci' | 'v2s2';

export interface CopyOptions {
  /** Destination manifest type; by default skopeo keeps the source's. */
  format?: ManifestFormat;
  /** Copy every image of an index (`--all`), not only this machine's platform. */
  all?: boolean;
  /** A registries.conf to use instead of the host's (`--registries-conf`), e.g. one sending docker.io pulls to the mirror. */
  registriesConf?: string;
}

/**
 * `skopeo copy` between two transport references (docker://, oci:, dir:).
 * Registries here are plain HTTP on loopback, so TLS verification is off on
 * both sides; --insecure-policy keeps the host's /etc/containers/policy.json
 * (which may reject everything) out of the test.
 * Writing a Docker schema2 image to `oci:` converts its manifest (new digest);
 * use `dir:` as the destination to keep a v2s2 manifest byte for byte.
 */
export async function skopeoCopy(source: string, destination: string, options: CopyOptions = {}): Promise<void> {
  await run(
    'skopeo',
    [
      '--insecure-policy',
      ...(options.registriesConf ? ['--registries-conf', options.registriesConf] : []),
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...(options.format ? ['--format', options.format] : []),
      ...(options.all ? ['--all'] : []),
      source,
      destination,
    ],
    { timeoutMs: SKOPEO_TIMEOUT_MS },
  );
}
