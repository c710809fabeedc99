import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Descriptor, PushedManifest, RegistryPusher } from './registry-push.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** The OCI empty descriptor's blob: `{}`, sha256:44136fa3…. */
export const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', bytes: '{}' } as const;

/** One artifact as its own tool pushes it: config and layers of its own media types. */
export interface ArtifactSpec {
  label: string;
  /** Absent: pushed by digest only (a referrer needs no tag). */
  tag?: string;
  artifactType?: string;
  config: { mediaType: string; bytes: Buffer | string };
  layers: { mediaType: string; bytes: Buffer | string; annotations?: Record<string, string> }[];
  /** Extra manifest fields (annotations, subject). */
  extra?: Record<string, unknown>;
}

/** A random payload, so no cache anywhere has it from an earlier run. */
const noise = (n: number): Buffer => randomBytes(n);

/** `helm push`: the chart's Chart.yaml as config JSON, the packaged chart as the one layer. */
export function helmChart(): ArtifactSpec {
  return {
    label: 'Helm chart',
    tag: '0.1.0',
    config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', bytes: JSON.stringify({ name: 'e2e-chart', version: '0.1.0', apiVersion: 'v2' }) },
    layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', bytes: gzipSync(noise(4096)) }],
  };
}

/**
 * BuildKit's registry cache in `image-manifest=true` form (the one registries without arbitrary
 * index children accept): the cache config as the manifest's config, cached layers as its layers.
 */
export function buildkitCache(): ArtifactSpec {
  const layer = gzipSync(noise(8192));
  return {
    label: 'BuildKit cache',
    tag: 'buildcache',
    config: {
      mediaType: 'application/vnd.buildkit.cacheconfig.v0',
      bytes: JSON.stringify({ layers: [{ blob: 'sha256:…', parent: -1 }], records: [{ digest: 'sha256:…' }] }),
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', bytes: layer, annotations: { 'buildkit/createdat': '2026-12-03T00:00:00Z' } }],
  };
}

/** A WASM module as wasm-to-oci pushes it. */
export function wasmModule(): ArtifactSpec {
  const module = Buffer.concat([Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]), noise(1024)]);
  return {
    label: 'WASM module',
    tag: 'v1',
    config: { mediaType: 'application/vnd.wasm.config.v0+json', bytes: JSON.stringify({ architecture: 'wasm', os: 'wasip1', layerDigests: [] }) },
    layers: [{ mediaType: 'application/vnd.wasm.content.layer.v1+wasm', bytes: module }],
  };
}

/** An OCI 1.1 artifact: `artifactType` set, the empty config, one layer of its own type. */
export function emptyConfigArtifact(): ArtifactSpec {
  return {
    label: 'artifactType with the empty config',
    tag: 'artifact',
    artifactType: 'application/vnd.example.notes.v1',
    config: EMPTY_CONFIG,
    layers: [{ mediaType: 'text/plain', bytes: `notes ${noise(16).toString('hex')}\n` }],
    extra: { annotations: { 'org.opencontainers.image.created': '2026-12-03T00:00:00Z' } },
  };
}

/** Pushes the blobs, then the manifest under the spec's tag. */
export async function pushArtifact(push: RegistryPusher, spec: ArtifactSpec): Promise<PushedManifest> {
  const config = await push.blob(spec.config.bytes, spec.config.mediaType);
  const layers: Descriptor[] = [];
  for (const layer of spec.layers) {
    const pushed = await push.blob(layer.bytes, layer.mediaType);
    layers.push(layer.annotations ? { ...pushed, annotations: layer.annotations } : pushed);
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(spec.artifactType ? { artifactType: spec.artifactType } : {}),
    config,
    layers,
    ...spec.extra,
  };
  return push.manifest(manifest, spec.tag);
}
