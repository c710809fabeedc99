import { RegistryError } from '../oci/errors.js';

/** Pages are capped so one request cannot ask for an unbounded listing. */
export const MAX_PAGE = 1000;

export interface PageQuery {
  n?: number;
  last?: string;
}

export function parsePageQuery(query: Record<string, string | string[] | undefined>): PageQuery {
  const n = single(query.n);
  const last = single(query.last);
  if (n !== undefined && !/^\d{1,9}$/.test(n)) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', {}, { n: n.slice(0, 20) });
  }
  if (last !== undefined && last.length > 512) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'last is too long');
  return { n: n === undefined ? undefined : Math.min(Number(n), MAX_PAGE), last };
}

/** `Link: </v2/…?n=…&last=…>; rel="next"`, keeping the other query parameters (e.g. `ns`). */
export function nextLink(path: string, query: Record<string, string | string[] | undefined>, n: number | undefined, last: string): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (k !== 'n' && k !== 'last' && typeof v === 'string') params.set(k, v);
  if (n !== undefined) params.set('n', String(n));
  params.set('last', last);
  return `<${path}?${params}>; rel="next"`;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
