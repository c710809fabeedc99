// Jest globalTeardown: this run is done with the gateway (see rgw-global-setup.js).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function teardown() {
  const script = fileURLToPath(new URL('../../scripts/rgw.sh', import.meta.url));
  spawnSync('bash', [script, 'release', process.env.RGW_USER_PID ?? String(process.pid)], { stdio: 'inherit' });
}
