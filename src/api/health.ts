import type { Readiness } from '../observability/readiness.js';
import type { ApiContext } from './context.js';

/**
 * GET /readyz: every check with `ok`, `ms` and the real error text. 503 when storage fails; 200
 * with `"status":"degraded"` when only an upstream does, since cached content is still served.
 */
export async function serveReadiness(ctx: ApiContext, readiness: () => Promise<Readiness>): Promise<void> {
  const result = await readiness();
  ctx.status = result.status === 'failing' ? 503 : 200;
  ctx.body = result;
}
