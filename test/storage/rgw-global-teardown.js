// Jest globalTeardown: stops the gateway if this run started it (see rgw-global-setup.js).
import { spawnSync } from 'node:child_process';
import { RGW_SCRIPT, rgwRunning } from './rgw-global-setup.js';

export default function teardown() {
  if (globalThis.rgwRunningBefore || !rgwRunning()) return;
  spawnSync('bash', [RGW_SCRIPT, 'stop'], { stdio: 'inherit' });
}
