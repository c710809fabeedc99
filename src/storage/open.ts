import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { withDriverBase } from './base.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';

export interface OpenStorageOptions {
  /** Storage timings, errors by operation and the stored-blob tally go here. */
  metrics?: Metrics;
  /**
   * Remove temps left by a previous process (default true). `check`, `gc` and `warm` pass false:
   * they may run beside a live server whose temps are in use.
   */
  sweepTemps?: boolean;
  /** Wraps the driver inside the shared base, so what it throws is reported like any driver error (tests inject faults). */
  wrap?: (driver: StorageDriver) => StorageDriver;
}

/** The configured driver, wrapped in the base every driver shares. */
export async function openStorage(config: Config['storage'], options: OpenStorageOptions = {}): Promise<StorageDriver> {
  const { metrics, sweepTemps = true, wrap = (d: StorageDriver) => d } = options;
  switch (config.driver) {
    case 'filesystem':
      return withDriverBase(wrap(await FilesystemDriver.open(config.filesystem.root, { sweepTemps })), metrics);
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
