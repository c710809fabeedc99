import type { Config } from '../config.js';
import { withDriverBase } from './base.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';
import { S3Driver } from './s3.js';

/** The configured driver, wrapped in the base every driver shares. */
export async function openStorage(config: Config['storage']): Promise<StorageDriver> {
  switch (config.driver) {
    case 'filesystem':
      return withDriverBase(await FilesystemDriver.open(config.filesystem.root));
    case 's3':
      return withDriverBase(new S3Driver(config.s3));
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
