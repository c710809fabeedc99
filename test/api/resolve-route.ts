import type { MirrorCache } from '../../src/cache/mirror.js';
import { createRegistryRouter, type RouteDeps } from '../../src/api/routes.js';

// The router only: handlers are never called here, so the mirror and deps are placeholders.
// eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- a placeholder no route calls into
const router = createRegistryRouter({} as MirrorCache, {} as RouteDeps);

/** The route that takes `GET path` (the first declared that matches) and its parameters. */
export function resolveRoute(path: string): { route?: string; params: Record<string, string> } {
  const layer = router.match(path, 'GET').pathAndMethod[0];
  if (!layer) return { params: {} };
  return { route: layer.name ?? undefined, params: { ...layer.params(path, layer.captures(path), {}) } };
}
