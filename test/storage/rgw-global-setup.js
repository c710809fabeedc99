// Jest globalSetup (see jest.config.js). The suites start the gateway of scripts/rgw.sh on first
// use (`rgw.sh use`), registered under this jest process, which the workers inherit through
// RGW_USER_PID; globalTeardown releases it, and rgw.sh stops the gateway once no live run uses it
// and nobody keeps it (`rgw.sh start`: .ci/run, or by hand between runs).
export default function setup() {
  process.env.RGW_USER_PID = String(process.pid);
}
