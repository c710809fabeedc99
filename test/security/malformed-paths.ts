/**
 * Generated malformed request paths for the fuzz test: each breaks the registry grammar in at least
 * one place (name, reference, digest, endpoint, or a registry host nobody configured), so none may
 * reach an upstream. A seeded PRNG makes every failure reproducible: the test prints the seed.
 */

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MalformedPath {
  /** The request target, byte for byte (latin1). */
  target: string;
  /** Holds bytes no HTTP client sends (controls, space, DEL, non-ASCII): send it over a raw socket. */
  raw: boolean;
}

const HEX = '0123456789abcdef';
const NAMES = ['library/alpine', 'alpine', 'org/team/app', 'a', 'ghcr-mirror/x_y.z'];
const TAGS = ['latest', 'v1.2.3', '3.20', 'A_b-c.d'];
/** Path segments that are never a valid name component. */
const BAD_SEGMENTS = [
  '..',
  '.',
  '...',
  '',
  '%2e%2e',
  '%2E%2E',
  '..%2f..',
  '%2f',
  '%00',
  '%5c',
  '\\',
  '%20',
  '%c3%a9',
  '~',
  '$',
  '@',
  ':',
  ';',
  ',',
  '*',
  '%',
  '_x',
  'x_',
  '-x',
  'x-',
  '.x',
  'x.',
  'x__',
  'a..b',
  'UPPER',
  '%41',
];
/** Tags that break `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` (none contains ':' or '/'). */
const BAD_TAGS = ['.hidden', '-dash', '..', 'a!b', 'a%b', 'a@b', 'a+b', 'a~b', 'a%00', 'a%2fb', 'a\\b', 'a$b', '%20', 't'.repeat(129), 'é'];
/** Hosts no mirror configures, for `?ns=` and the `/<host>/v2/` prefix. */
const EVIL_HOSTS = [
  'evil.example',
  '169.254.169.254',
  'localhost:5000',
  '127.0.0.1:1',
  'docker.io@evil.example',
  'metadata.google.internal',
  '[::1]:5000',
  '%2e%2e',
];
const RAW_BYTES = [0x00, 0x01, 0x09, 0x0b, 0x0c, 0x1b, 0x20, 0x7f, 0x80, 0xc3, 0xe9, 0xff];

export function generateMalformedPaths(seed: number, count: number): MalformedPath[] {
  const rnd = prng(seed);
  const pick = <T>(xs: ArrayLike<T>): T => xs[Math.floor(rnd() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => pick(HEX)).join('');
  const goodDigest = () => `sha256:${hex(64)}`;
  /** `manifest`: never a bare hex string, which is a valid tag (and so a legitimate manifest request). */
  const badDigest = (manifest = false) =>
    pick([
      () => `sha256:${hex(63)}`,
      () => `sha256:${hex(65)}`,
      () => `sha256:${hex(64).toUpperCase()}`,
      () => `sha256:${hex(60)}zzzz`,
      () => `sha512:${hex(128)}`,
      () => `md5:${hex(32)}`,
      () => `SHA256:${hex(64)}`,
      () => `:${hex(64)}`,
      () => 'sha256:',
      () => `sha256::${hex(64)}`,
      () => `sha256%3a${hex(64)}`,
      ...(manifest ? [] : [() => hex(64)]),
    ])();

  /** A name with 1–3 bad segments spliced in, or made absolute, or too long. */
  const badName = (): string => {
    const parts = pick(NAMES).split('/');
    const how = rnd();
    if (how < 0.1) return `/${parts.join('/')}`;
    if (how < 0.2) return Array.from({ length: 130 }, () => 'ab').join('/');
    if (how < 0.3) {
      const i = Math.floor(rnd() * parts.length);
      parts[i] = parts[i]!.slice(0, 1).toUpperCase() + parts[i]!.slice(1);
      return parts.join('/');
    }
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) parts.splice(Math.floor(rnd() * (parts.length + 1)), 0, pick(BAD_SEGMENTS));
    return parts.join('/');
  };

  const shapes: (() => string)[] = [
    () => `/v2/${badName()}/manifests/${pick(TAGS)}`,
    () => `/v2/${badName()}/manifests/${goodDigest()}`,
    () => `/v2/${pick(NAMES)}/manifests/${pick(BAD_TAGS)}`,
    () => `/v2/${pick(NAMES)}/manifests/${badDigest(true)}`,
    () => `/v2/${badName()}/blobs/${goodDigest()}`,
    () => `/v2/${pick(NAMES)}/blobs/${badDigest()}`,
    () => `/v2/${badName()}/tags/list`,
    () => `/v2/${badName()}/tags/list?n=${Math.floor(rnd() * 10)}`,
    () => `/v2/${pick(NAMES)}/manifests/${pick(TAGS)}?ns=${pick(EVIL_HOSTS)}`,
    () => `/v2/${pick(NAMES)}/blobs/${goodDigest()}?ns=${pick(EVIL_HOSTS)}`,
    () => `/${pick(EVIL_HOSTS)}/v2/${pick(NAMES)}/manifests/${pick(TAGS)}`,
    () => `/v2/${pick(EVIL_HOSTS.filter((h) => !h.includes('[')))}/${pick(NAMES)}/manifests/${pick(TAGS)}`,
    () => `/v2/${pick(NAMES)}/${pick(['manifest', 'blob', 'tags', 'blobs/uploads/x/../..', 'referrers'])}/${pick(TAGS)}`,
    () => `/${pick(['v1', 'v3', 'V2', 'v2v2', '', '%76%32'])}/${pick(NAMES)}/manifests/${pick(TAGS)}`,
  ];

  const out: MalformedPath[] = [];
  while (out.length < count) {
    let target = pick(shapes)();
    // One in ten gets raw bytes spliced in after `/v2/`: the HTTP parser's turn to refuse.
    let raw = false;
    if (rnd() < 0.1) {
      const at = 4 + Math.floor(rnd() * Math.max(1, target.length - 4));
      target = target.slice(0, at) + String.fromCharCode(pick(RAW_BYTES)) + target.slice(at);
      raw = true;
    }
    raw ||= /[^\x21-\x7e]/.test(target);
    out.push({ target, raw });
  }
  return out;
}
