import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { FilesystemDriver } from '../../src/storage/filesystem.js';
import { describeStorageDriver, type DriverFixture } from './contract.js';
import { describeWriterReadBack } from './contract-readback.js';
import { describeListingContract } from './contract-listing.js';

async function walk(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

async function filesystem(): Promise<DriverFixture> {
  const root = await mkdtemp(join(tmpdir(), 'pt-fs-'));
  return {
    driver: await FilesystemDriver.open(root),
    allKeys: () => walk(root),
    teardown: () => rm(root, { recursive: true, force: true }),
  };
}

describeStorageDriver('filesystem', filesystem);
describeWriterReadBack('filesystem', filesystem);
describeListingContract('filesystem', filesystem);
