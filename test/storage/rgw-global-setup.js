// Jest globalSetup (see jest.config.js). The suites start the gateway of scripts/rgw.sh on first
// use and share it; globalTeardown stops it only if this run started it, so a gateway started
// beforehand (by .ci/run, or by hand to keep it between runs) lives on.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const RGW_SCRIPT = fileURLToPath(new URL('../../scripts/rgw.sh', import.meta.url));

export const rgwRunning = () => spawnSync('bash', [RGW_SCRIPT, 'status'], { stdio: 'ignore' }).status === 0;

export default function setup() {
  globalThis.rgwRunningBefore = rgwRunning();
}
