import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { Descriptor, RegistryPusher } from './registry-push.js';

/** cosign's names: the payload layer's media type and the annotation holding the signature. */
export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

/** An ECDSA P-256 key pair, as `cosign generate-key-pair` makes. */
export function signingKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** The simple-signing payload cosign signs: it names the image by reference and manifest digest. */
export function simpleSigningPayload(dockerReference: string, manifestDigest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': manifestDigest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
}

/**
 * Signs `manifestDigest` as cosign does without a transparency log: the payload is the
 * manifest's one layer, the base64 DER ECDSA-SHA256 signature its annotation, the manifest
 * tagged `sha256-<hex>.sig` beside the image.
 */
export async function pushSignature(push: RegistryPusher, dockerReference: string, manifestDigest: string, privateKey: KeyObject) {
  const payload = simpleSigningPayload(dockerReference, manifestDigest);
  const signature = sign('sha256', payload, privateKey).toString('base64');
  const layer: Descriptor = { ...(await push.blob(payload, SIMPLE_SIGNING)), annotations: { [SIGNATURE_ANNOTATION]: signature } };
  const configBytes = JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } });
  const config = await push.blob(configBytes, OCI_CONFIG);
  return push.manifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }, `${manifestDigest.replace(':', '-')}.sig`);
}

/**
 * Checks a cosign-style signature manifest against the public key: the annotation signs the
 * payload, and the payload names `manifestDigest`.
 */
export function verifySignature(signatureManifest: Buffer, blobs: Map<string, Buffer>, manifestDigest: string, publicKey: KeyObject): boolean {
  const manifest = JSON.parse(signatureManifest.toString('utf8')) as { layers: Descriptor[] };
  const layer = manifest.layers.find((l) => l.mediaType === SIMPLE_SIGNING);
  const signature = layer?.annotations?.[SIGNATURE_ANNOTATION];
  const payload = layer && blobs.get(layer.digest);
  if (!signature || !payload) return false;
  if (!verify('sha256', payload, publicKey, Buffer.from(signature, 'base64'))) return false;
  const claim = JSON.parse(payload.toString('utf8')) as { critical: { image: { 'docker-manifest-digest': string } } };
  return claim.critical.image['docker-manifest-digest'] === manifestDigest;
}
