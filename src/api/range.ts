import { RegistryError } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import type { ByteRange } from '../storage/driver.js';

/**
 * The one range of a `Range: bytes=…` header, resolved against the blob size; undefined when
 * there is no header. Malformed, multi-range and unsatisfiable headers get 416 with
 * `Content-Range: bytes *\/size`: a clear error beats a silent full download to a client that
 * asked for part of a blob.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const invalid = () => new RegistryError('RANGE_INVALID', `requested range not satisfiable: ${header.slice(0, 100)}`, { [H.contentRange]: `bytes */${size}` });
  if (!m || (m[1] === '' && m[2] === '')) throw invalid();
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw invalid();
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) throw invalid();
  return { start, end };
}
