import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under $TMPDIR, named so leftovers are easy to attribute. */
export function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pullthrough-e2e-${label}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}
