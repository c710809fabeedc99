import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../storage/driver.js';
import type { Upstream } from '../upstream/routing.js';

/** One check behind /readyz and `pullthrough check`. */
export interface Check {
  name: string;
  /** What is checked, for people: "filesystem ./storage", "https://registry-1.docker.io". */
  target: string;
  /** A failing critical check fails readiness; any other only degrades it. */
  critical: boolean;
  /** Shown with the result whatever it is: a setting that weakens this check (insecureSkipVerify). */
  warning?: string;
  /** Resolves when healthy; rejects with the real error text. Should stop when `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

export interface CheckResult {
  name: string;
  target: string;
  ok: boolean;
  ms: number;
  error?: string;
  warning?: string;
}

export interface Readiness {
  /** failing: a critical check failed (503); degraded: only others did (cached content is still served). */
  status: 'ok' | 'degraded' | 'failing';
  checks: CheckResult[];
}

/** Storage must take a write, read it back and delete it: without that nothing can be served or cached. */
export function storageCheck(storage: StorageDriver, target: string): Check {
  return {
    name: 'storage',
    target,
    critical: true,
    run: async () => {
      const health = await storage.health();
      if (!health.ok) throw new Error(health.error ?? `${storage.name}: unhealthy`);
    },
  };
}

/** Storage that could not even be opened (`pullthrough check`): the check fails with that error. */
export function unopenedStorageCheck(error: string, target: string): Check {
  return { name: 'storage', target, critical: true, run: () => Promise.reject(new Error(error)) };
}

/** An upstream that is down only degrades: everything cached is still served. */
export function upstreamCheck(upstream: Upstream): Check {
  const warning = upstream.insecureSkipVerify ? 'insecureSkipVerify: the upstream certificate is not verified' : undefined;
  return {
    name: `upstream ${upstream.name}`,
    target: upstream.url,
    critical: false,
    ...(warning ? { warning } : {}),
    run: (signal) => upstream.client.ping(signal),
  };
}

/**
 * Cluster mode's Redis only degrades: without it each replica works alone. Down: its own error
 * text (`connect ECONNREFUSED …`); up: a PING, so a Redis too slow to answer shows too.
 */
export function redisCheck(redis: { target: string; available: boolean; lastError?: string; client: { ping(): Promise<unknown> } }): Check {
  return {
    name: 'cluster redis',
    target: redis.target,
    critical: false,
    run: async () => {
      if (!redis.available) throw new Error(`redis: ${redis.lastError ?? 'not connected'}`);
      await redis.client.ping();
    },
  };
}

/**
 * Runs the checks in parallel, each bounded by `timeoutMs`: a probe that hangs (NFS, a black-holed
 * upstream) must turn into an answer before the caller's own probe timeout does.
 */
export async function runChecks(checks: readonly Check[], timeoutMs = 5_000): Promise<Readiness> {
  const results = await Promise.all(checks.map((c) => runOne(c, timeoutMs)));
  const failed = (critical: boolean) => results.some((r, i) => !r.ok && checks[i]!.critical === critical);
  const status = failed(true) ? 'failing' : failed(false) ? 'degraded' : 'ok';
  return { status, checks: results };
}

async function runOne(check: Check, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${timeoutMs / 1000}s`));
    }, timeoutMs);
  });
  let error: string | undefined;
  try {
    await Promise.race([check.run(controller.signal), timeout]);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
  const ms = Math.round(performance.now() - started);
  return {
    name: check.name,
    target: check.target,
    ok: error === undefined,
    ms,
    ...(error === undefined ? {} : { error }),
    ...(check.warning ? { warning: check.warning } : {}),
  };
}

/** Concurrent callers share one run, so a burst of probes costs one round of checks. */
export function coalesced(run: () => Promise<Readiness>): () => Promise<Readiness> {
  let pending: Promise<Readiness> | undefined;
  return () => (pending ??= run().finally(() => (pending = undefined)));
}
