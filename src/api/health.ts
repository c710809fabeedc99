import type { MirrorCache } from '../cache/mirror.js';
import type { ApiContext } from './context.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface Readiness {
  status: 'ok' | 'degraded' | 'failing';
  checks: CheckResult[];
}

async function timed(name: string, check: () => Promise<string | undefined>): Promise<CheckResult> {
  const started = performance.now();
  const error = await check().catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
  return { name, ok: error === undefined, ms: Math.round(performance.now() - started), ...(error === undefined ? {} : { error }) };
}

/**
 * Storage must work (writes, reads back and deletes a probe); a failing upstream only degrades,
 * since everything cached is still served.
 */
export async function readiness(mirror: MirrorCache): Promise<Readiness> {
  const checks = await Promise.all([
    timed(`storage (${mirror.storage.name})`, async () => {
      const health = await mirror.storage.health();
      return health.ok ? undefined : health.error;
    }),
    ...mirror.router.upstreams.map((u) =>
      timed(`upstream ${u.name}`, async () => {
        await u.client.ping();
        return undefined;
      }),
    ),
  ]);
  const status = !checks[0]!.ok ? 'failing' : checks.every((c) => c.ok) ? 'ok' : 'degraded';
  return { status, checks };
}

export async function serveReadiness(ctx: ApiContext, mirror: MirrorCache): Promise<void> {
  const result = await readiness(mirror);
  ctx.status = result.status === 'failing' ? 503 : 200;
  ctx.body = result;
}
