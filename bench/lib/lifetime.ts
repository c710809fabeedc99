import { removeDir } from '../../test/e2e/harness/tmp.js';

/** Anything the bench starts or creates: a daemon, a temp dir, a listener. */
export interface Disposable {
  dispose(): Promise<void>;
}

/** Everything alive right now, newest last, so a signal or a crash can tear it all down. */
const live: Disposable[] = [];

/** Registers a resource to be disposed by disposeAll() unless released first. */
export function adopt<T extends Disposable>(resource: T): T {
  live.push(resource);
  return resource;
}

/** Disposes one adopted resource now. */
export async function release(resource: Disposable): Promise<void> {
  const i = live.indexOf(resource);
  if (i >= 0) live.splice(i, 1);
  await resource.dispose();
}

/**
 * Creates a resource, hands it to `use`, and disposes it whatever happens:
 * the per-run mirrors of the cold scenarios come and go through this.
 */
export async function scoped<T extends Disposable, R>(make: () => Promise<T>, use: (resource: T) => Promise<R>): Promise<R> {
  const resource = adopt(await make());
  try {
    return await use(resource);
  } catch (err) {
    throw await withLogTail(err, resource);
  } finally {
    await release(resource);
  }
}

/** A server's log dies with its temp dir: quote its end in the error first, so a failure says why. */
async function withLogTail(err: unknown, resource: unknown): Promise<unknown> {
  const server = resource as { logTail?: (chars?: number) => Promise<string>; label?: string };
  if (!(err instanceof Error) || typeof server.logTail !== 'function') return err;
  err.message += `\n--- ${server.label ?? 'server'} log ---\n${await server.logTail(3000)}`;
  return err;
}

/** A temp dir as a resource. */
export function tempDirResource(dir: string): Disposable & { dir: string } {
  return { dir, dispose: () => removeDir(dir) };
}

/** Disposes everything still alive, newest first; never throws. */
export async function disposeAll(): Promise<void> {
  while (live.length > 0) {
    const resource = live.pop()!;
    await resource.dispose().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
  }
}

/** Ctrl-C or a kill must not leave registries, nginx or GBs of temp files behind. */
export function disposeOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, cleaning up`);
      void disposeAll().finally(() => process.exit(130));
    });
  }
}

/** A scenario or the setup ran past its time; its work may still be going on. */
export class DeadlineError extends Error {}

/** Rejects with a DeadlineError if `work` has not settled within `ms`: every scenario is bounded in time. */
export async function withDeadline<T>(label: string, ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${label}: not done within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
