import type { StatusReporter } from '../status/report.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from '../status/page.js';
import type { ApiContext } from './context.js';

/** GET /status.json: the StatusReport (see README, "Status page"). */
export async function serveStatus(ctx: ApiContext, status: StatusReporter): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await status.report();
}

/** GET /: the status page, which reads /status.json. */
export function serveStatusPage(ctx: ApiContext): void {
  ctx.set('Content-Security-Policy', STATUS_PAGE_CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Cache-Control', 'no-cache');
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = STATUS_PAGE;
}
