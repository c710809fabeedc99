import type { Config } from '../config.js';
import { withDriverBase } from './base.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';

/** The configured driver, wrapped in the base every driver shares. */
export async function openStorage(config: Config['storage']): Promise<StorageDriver> {
  switch (config.driver) {
    case 'filesystem':
      return withDriverBase(await FilesystemDriver.open(config.filesystem.root));
  }
}

/** One line for the startup log: "filesystem ./storage". */
export function describeStorage(config: Config['storage']): string {
  switch (config.driver) {
    case 'filesystem':
      return `filesystem ${config.filesystem.root}`;
  }
}
