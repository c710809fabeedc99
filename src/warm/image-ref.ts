import { RegistryError } from '../oci/errors.js';

/** `alpine`, `ghcr.io/org/app:1.0`, `docker.io/library/alpine@sha256:…`, split as docker does. */
export interface ImageRef {
  /** The registry host, when the reference names one. */
  host?: string;
  name: string;
  /** A tag or a digest. */
  reference: string;
}

export function parseImageRef(text: string): ImageRef {
  let rest = text.trim();
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf('/');
  const first = slash > 0 ? rest.slice(0, slash) : '';
  // Docker's rule: a first component with a dot or a port, or `localhost`, is a registry host.
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost';
  const name = isHost ? rest.slice(slash + 1) : rest;
  if (!name || !reference) throw new RegistryError('NAME_INVALID', `not an image reference: ${JSON.stringify(text)}`);
  return { host: isHost ? first : undefined, name, reference };
}

export function formatImageRef(ref: ImageRef): string {
  const sep = ref.reference.includes(':') ? '@' : ':';
  return `${ref.host ? `${ref.host}/` : ''}${ref.name}${sep}${ref.reference}`;
}
