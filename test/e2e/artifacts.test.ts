// OCI artifacts of every kind pass through the mirror like images: a Helm chart, a BuildKit cache,
// a WASM module and an artifactType manifest with the empty config are pushed to a real registry
// (Debian's docker-registry) with the distribution API, as their tools push them, then pulled
// through the mirror by tag and by digest, each served with its own media type and every body
// verified by digest; then again with the upstream stopped.
import { buildkitCache, emptyConfigArtifact, helmChart, pushArtifact, wasmModule, type ArtifactSpec } from './harness/artifacts.js';
import { sha256Digest } from './harness/digest.js';
import { Pullthrough } from './harness/pullthrough.js';
import { pullVerified, RegistryPusher, type PushedManifest } from './harness/registry-push.js';
import { UpstreamRegistry } from './harness/upstream-registry.js';

const TIMEOUT_MS = 120_000;
const REPOSITORY = 'library/e2e-artifacts';
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

let upstream: UpstreamRegistry | undefined;
let mirror: Pullthrough | undefined;
const specs: ArtifactSpec[] = [helmChart(), buildkitCache(), wasmModule(), emptyConfigArtifact()];
const pushed = new Map<string, PushedManifest>();

beforeAll(async () => {
  upstream = await UpstreamRegistry.create();
  mirror = await Pullthrough.create({ upstreamUrl: upstream.url });
  const push = new RegistryPusher(upstream.url, REPOSITORY);
  for (const spec of specs) pushed.set(spec.label, await pushArtifact(push, spec));
}, TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled([mirror?.dispose(), upstream?.dispose()]);
}, TIMEOUT_MS);

/** Pulls the artifact through the mirror by `reference`; its manifest bytes, type and digest are the pushed ones, its blobs verify. */
async function expectPulled(spec: ArtifactSpec, reference: string): Promise<void> {
  const want = pushed.get(spec.label)!;
  let got;
  try {
    got = await pullVerified(mirror!.url, REPOSITORY, reference, want.mediaType, want.blobs);
  } catch (err) {
    throw new Error(`${spec.label}: ${(err as Error).message}\n--- pullthrough log ---\n${await mirror!.logTail()}`, { cause: err });
  }
  expect([spec.label, got.contentType]).toEqual([spec.label, want.mediaType]);
  expect(got.contentDigest).toBe(want.digest);
  expect(sha256Digest(got.bytes)).toBe(want.digest);
  const manifest = JSON.parse(got.bytes.toString('utf8')) as { config: { mediaType: string }; artifactType?: string; layers: { mediaType: string }[] };
  expect(manifest.config.mediaType).toBe(spec.config.mediaType);
  expect(manifest.layers.map((l) => l.mediaType)).toEqual(spec.layers.map((l) => l.mediaType));
  expect(manifest.artifactType).toBe(spec.artifactType);
  expect([...got.blobs.keys()].sort()).toEqual(want.blobs.map((b) => b.digest).sort());
}

test('the empty-config artifact names the OCI empty descriptor', () => {
  const artifact = pushed.get(emptyConfigArtifact().label)!;
  expect(artifact.blobs[0]).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 });
});

test.each(specs.map((s) => [s.label, s] as const))(
  '%s: cold pull by tag, then by digest',
  async (_label, spec) => {
    await expectPulled(spec, spec.tag!);
    await expectPulled(spec, pushed.get(spec.label)!.digest);
  },
  TIMEOUT_MS,
);

test.each(specs.map((s) => [s.label, s] as const))(
  '%s: pulled again with the upstream stopped',
  async (_label, spec) => {
    await upstream!.stop();
    await expectPulled(spec, spec.tag!);
    await expectPulled(spec, pushed.get(spec.label)!.digest);
  },
  TIMEOUT_MS,
);
