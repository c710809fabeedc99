import { access, constants, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_OPTIONS, configFromFlags } from './command-config.js';
import { runChecks, storageCheck, unopenedStorageCheck, upstreamCheck, type Check, type Readiness } from './observability/readiness.js';
import { describeStorage, openStorage } from './storage/open.js';
import { osErrorText } from './storage/os-error.js';
import { UpstreamRouter } from './upstream/routing.js';

export const CHECK_USAGE = `usage: pullthrough check [--config FILE] [--storage DIR] [--upstream URL] [--json] [--strict]

Runs the checks behind /readyz without starting a server: storage (writes, reads back and deletes
a probe object) and each upstream (reachable, authentication works). Prints a table, or the /readyz
JSON with --json. Exit status 1 when storage fails; with --strict also when an upstream fails.
Safe beside a running server: it does not sweep temp files. It creates nothing: a storage directory
that is not there yet passes when serve could create it.`;

/** `pullthrough check`: resolves with the exit status. Takes the same config flags as serve. */
export async function checkCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...CONFIG_OPTIONS,
      // Accepted so a serve command line works unchanged; nothing listens.
      listen: { type: 'string' },
      'debug-listen': { type: 'string' },
      json: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
    },
  });
  const { config } = configFromFlags(values);
  const router = new UpstreamRouter(config.upstreams);
  try {
    const checks = [await openedStorageCheck(config.storage), ...router.upstreams.map(upstreamCheck)];
    const result = await runChecks(checks);
    console.log(values.json ? JSON.stringify(result, null, 2) : formatReadiness(result));
    return result.status === 'failing' || (values.strict && result.status === 'degraded') ? 1 : 0;
  } finally {
    // Not awaited: close() waits for requests still running, and a token request cut off by the
    // check timeout may hang for the upstream's header timeout. The process exits right after.
    void router.close().catch(() => undefined);
  }
}

/** Storage that cannot even be opened is a failed check with the OS's words, not a crash. */
async function openedStorageCheck(config: Parameters<typeof openStorage>[0]): Promise<Check> {
  const target = describeStorage(config);
  if (config.driver === 'filesystem' && !(await exists(config.filesystem.root))) return uncreatedRootCheck(config.filesystem.root, target);
  try {
    return storageCheck(await openStorage(config, { mode: 'inspect' }), target);
  } catch (err) {
    return unopenedStorageCheck(`${config.driver}: ${osErrorText(err)}`, target);
  }
}

/**
 * A filesystem root that is not there yet: check must not create it (in whatever directory it
 * runs), so it asks whether serve could: the nearest existing parent must be a writable directory.
 */
async function uncreatedRootCheck(root: string, target: string): Promise<Check> {
  let parent = dirname(resolve(root));
  while (!(await exists(parent))) parent = dirname(parent);
  const problem = await stat(parent).then(
    (s) =>
      s.isDirectory()
        ? access(parent, constants.W_OK).then(
            () => undefined,
            (err: unknown) => osErrorText(err),
          )
        : `${parent}: not a directory`,
    (err: unknown) => osErrorText(err),
  );
  if (problem) return unopenedStorageCheck(`filesystem: cannot create ${root}: ${problem}`, target);
  return { name: 'storage', target: `${target} (not there yet: serve creates it)`, critical: true, run: () => Promise.resolve() };
}

/** True when something is at the path; a path through a file is not there. */
function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The checks as an aligned table, then the overall status. */
export function formatReadiness(result: Readiness): string {
  const rows = [
    ['CHECK', 'TARGET', 'RESULT', 'TIME', 'ERROR'],
    ...result.checks.map((c) => [c.name, c.target, c.ok ? 'ok' : 'FAIL', `${c.ms}ms`, c.error ?? '']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\nstatus: ${result.status}`;
}
