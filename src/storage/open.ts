import { mkdir } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { withDriverBase } from './base.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';

export interface OpenStorageOptions {
  /** Storage timings, errors by operation and the stored-blob tally go here. */
  metrics?: Metrics;
  /**
   * What the opener will do with the store, so every command opens it one way. `serve` (the
   * default) writes and owns the temps: the root is created and temps left by a previous process
   * are removed. `warm` writes beside a server that may be running: the root is created, temps are
   * left alone. `inspect` (check, gc) creates and removes nothing on opening.
   */
  mode?: 'serve' | 'warm' | 'inspect';
  /** Wraps the driver inside the shared base, so what it throws is reported like any driver error (tests inject faults). */
  wrap?: (driver: StorageDriver) => StorageDriver;
}

/** The configured driver, wrapped in the base every driver shares. */
export async function openStorage(config: Config['storage'], options: OpenStorageOptions = {}): Promise<StorageDriver> {
  const { metrics, mode = 'serve', wrap = (d: StorageDriver) => d } = options;
  switch (config.driver) {
    case 'filesystem':
      if (mode === 'warm') await mkdir(config.filesystem.root, { recursive: true });
      return withDriverBase(wrap(await FilesystemDriver.open(config.filesystem.root, { sweepTemps: mode === 'serve' })), metrics);
    case 's3': {
      // Loaded only when configured: the AWS SDK adds over a second to every filesystem start.
      const { S3Driver } = await import('./s3.js');
      return withDriverBase(wrap(new S3Driver(config.s3)), metrics);
    }
  }
}

/** One line for the startup log: "filesystem ./storage", "s3 s3://bucket/prefix (http://minio:9000)". */
export function describeStorage(config: Config['storage']): string {
  switch (config.driver) {
    case 'filesystem':
      return `filesystem ${config.filesystem.root}`;
    case 's3': {
      const { bucket, prefix, endpoint, region } = config.s3;
      return `s3 s3://${bucket}/${prefix} (${endpoint ?? region})`;
    }
  }
}
