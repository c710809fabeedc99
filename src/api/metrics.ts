import type { Metrics } from '../observability/metrics.js';
import type { ApiContext } from './context.js';

/** GET /metrics: the Prometheus text exposition. */
export async function serveMetrics(ctx: ApiContext, metrics: Metrics): Promise<void> {
  const { contentType, body } = await metrics.render();
  ctx.type = contentType;
  ctx.body = body;
}
