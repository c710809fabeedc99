import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import { startMirror } from '../api/mirror-harness.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';
import { CLI, cleanEnv, ensureBuilt } from '../cli-harness.js';
import { FakeHub } from '../fixtures/fake-hub.js';
import { until } from '../faults/fault-kit.js';
import { captureLog } from '../observability/capture-log.js';

beforeAll(ensureBuilt, 180_000);

const secret = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Everything a client or an operator gets to see, as one text to search. */
class Exposure {
  private readonly parts: string[] = [];
  add(label: string, text: string): void {
    this.parts.push(`--- ${label}\n${text}`);
  }
  async fetch(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<number> {
    const res = await request(url, { method, headers: { accept: CLIENT_ACCEPT, ...headers } });
    const body = await res.body.text();
    // Labelled without the query: the test's own URLs carry secrets on purpose.
    this.add(`${method} ${new URL(url).pathname} → ${res.statusCode}`, `${JSON.stringify(res.headers)}\n${body}`);
    return res.statusCode;
  }
  /** Each secret (and its base64 and URL-encoded forms) with the places it was found; empty when none leaked. */
  leaks(secrets: Record<string, string>): string[] {
    const text = this.parts.join('\n');
    const found: string[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      for (const form of new Set([value, Buffer.from(value).toString('base64'), encodeURIComponent(value)])) {
        const at = text.indexOf(form);
        if (at >= 0) found.push(`${name} in: ${text.slice(Math.max(0, at - 200), at + form.length + 20)}`);
      }
    }
    return found;
  }
}

/**
 * Secrets never reach logs (at trace level), error bodies, /readyz or /metrics, whether the request
 * carrying them succeeds or fails, and whether they came from a file or the environment.
 */
describe('secrets stay secret', () => {
  let dir: string;
  let hub: FakeHub | undefined; // only the tests that start one set it
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pt-secrets-'));
  });
  afterEach(async () => {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('upstream password (file), mirror htpasswd password and tokens: absent from log lines, bodies, headers, /metrics and /readyz', async () => {
    const s = { upstreamPassword: secret('upstream-pw'), mirrorPassword: secret('mirror-pw'), mirrorToken: secret('mirror-token') };
    await writeFile(join(dir, 'upstream-password'), `${s.upstreamPassword}\n`);
    await writeFile(join(dir, 'htpasswd'), `alice:${bcrypt.hashSync(s.mirrorPassword, 4)}\n`);
    await writeFile(join(dir, 'tokens'), `${s.mirrorToken}\n`);
    const captured = captureLog('trace');
    const { loadConfig } = await import('../../src/config.js');
    const configFile = join(dir, 'config.yaml');
    await writeFile(
      configFile,
      [
        'auth:',
        `  htpasswd: ${join(dir, 'htpasswd')}`,
        `  tokensFile: ${join(dir, 'tokens')}`,
        'upstreams:',
        '  - name: docker.io',
        '    url: http://127.0.0.1:9',
        '    username: ci',
        `    passwordFile: ${join(dir, 'upstream-password')}`,
        '',
      ].join('\n'),
    );
    const loaded = loadConfig(configFile, {}, {});
    const m = await startMirror({
      log: captured.log,
      hub: { credentials: { username: 'ci', password: s.upstreamPassword } },
      upstream: { username: 'ci', password: loaded.upstreams[0]!.password },
      config: { auth: loaded.auth, log: { level: 'trace' } },
    });
    hub = m.hub;
    const seen = new Exposure();
    try {
      const image = m.hub.addImage('library/app', '1');
      const alice = { authorization: basic('alice', s.mirrorPassword) };
      // Failing requests that carry secrets.
      await seen.fetch(`${m.url}/v2/`);
      await seen.fetch(`${m.url}/v2/`, { authorization: basic('bob', s.mirrorPassword) });
      await seen.fetch(`${m.url}/v2/library/app/manifests/1`, { authorization: `Bearer ${s.upstreamPassword}` });
      await seen.fetch(`${m.url}/v2/library/app/manifests/1?password=${s.mirrorPassword}&token=${s.mirrorToken}`);
      await seen.fetch(`${m.url}/v2/library/app/manifests/1`, { authorization: `Bearer ${s.mirrorToken}x` }, 'HEAD');
      // Succeeding ones, which make the mirror use the upstream password.
      expect(await seen.fetch(`${m.url}/v2/library/app/manifests/1`, alice)).toBe(200);
      expect(await seen.fetch(`${m.url}/v2/library/app/blobs/${image.config}`, { authorization: `Bearer ${s.mirrorToken}` })).toBe(200);
      // The upstream refusing the mirror's credentials, and failing outright.
      m.hub.fault({ kind: 'status', match: { role: 'auth' }, status: 401, times: 1 });
      m.hub.expireTokens();
      expect(await seen.fetch(`${m.url}/v2/library/app/blobs/${image.layers[0]}`, alice)).toBe(401);
      m.hub.fault({ kind: 'status', match: {}, status: 500, times: 3 });
      await seen.fetch(`${m.url}/v2/library/other/manifests/1`, alice);
      await seen.fetch(`${m.url}/readyz`);
      await seen.fetch(`${m.url}/metrics`, alice);
      await seen.fetch(`${m.url}/v2/_catalog`, alice);
    } finally {
      await m.close();
    }
    seen.add('log', captured.lines.map((l) => JSON.stringify(l)).join('\n'));
    // The bearer tokens the upstream issued to the mirror are credentials too.
    const issued = Object.fromEntries(
      m.hub.requests.filter((r) => r.authorization?.startsWith('Bearer ')).map((r, i) => [`upstream token ${i}`, r.authorization!.slice('Bearer '.length)]),
    );
    expect(Object.keys(issued).length).toBeGreaterThan(0);
    expect(captured.lines.length).toBeGreaterThan(10);
    expect(seen.leaks({ ...s, ...issued, upstreamBasic: basic('ci', s.upstreamPassword).slice(6) })).toEqual([]);
  });

  test('an upstream URL carrying credentials is refused at start: they would be printed in the startup line and /readyz', async () => {
    const { ConfigError, loadConfig } = await import('../../src/config.js');
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'upstreams:\n  - name: docker.io\n    url: https://ci:hunter2@registry-1.docker.io\n');
    expect(() => loadConfig(file, {}, {})).toThrow(ConfigError);
    expect(() => loadConfig(file, {}, {})).toThrow(/upstreams\.0\.url: must not carry credentials: use username and passwordFile/);
    expect(() => loadConfig(undefined, {}, { REGISTRY_PROXY_REMOTEURL: 'https://ci:hunter2@registry-1.docker.io' })).toThrow(/must not carry credentials/);
    try {
      loadConfig(file, {}, {});
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  test('S3 keys and an upstream password from the environment: absent from the real CLI output, /readyz, /metrics and error bodies', async () => {
    const s = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: secret('s3-secret'), upstreamPassword: secret('env-pw') };
    hub = await FakeHub.start({ credentials: { username: 'ci', password: s.upstreamPassword } });
    hub.addImage('library/app', '1');
    // An S3 endpoint that refuses every request the way S3 does, echoing the access key id in its error.
    const s3: Server = createServer((req, res) => {
      const keyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><AWSAccessKeyId>${keyId}</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256</StringToSign></Error>`;
      req.resume();
      res.writeHead(403, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => s3.listen(0, '127.0.0.1', r));
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'listen: "127.0.0.1:0"',
        'log: { level: trace }',
        'storage:',
        '  driver: s3',
        '  s3:',
        '    bucket: mirror',
        `    endpoint: http://127.0.0.1:${(s3.address() as AddressInfo).port}`,
        '    forcePathStyle: true',
        `    accessKeyId: ${s.accessKeyId}`,
        `    secretAccessKey: ${s.secretAccessKey}`,
        `upstreams: [{ name: docker.io, url: "${hub.url}", username: ci }]`,
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [CLI, 'serve', '--config', config], { env: { ...cleanEnv(), REGISTRY_PROXY_PASSWORD: s.upstreamPassword } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const seen = new Exposure();
    try {
      const url = await until('the startup line', () => /"url":"(http:[^"]+)"/.exec(output)?.[1]);
      expect(await seen.fetch(`${url}/readyz`)).toBe(503);
      await seen.fetch(`${url}/v2/library/app/manifests/1`);
      await seen.fetch(`${url}/v2/library/app/manifests/1`, { authorization: `Bearer ${s.secretAccessKey}` });
      await seen.fetch(`${url}/v2/_catalog`);
      await seen.fetch(`${url}/metrics`);
      await until('the failed blob count', () => output.includes('cannot count stored blobs'));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      s3.closeAllConnections();
      await new Promise((r) => s3.close(r));
    }
    seen.add('cli output', output);
    // The S3 error made it to /readyz and the log: the test looked where a leak would be.
    expect(output).toMatch(/SignatureDoesNotMatch/);
    expect(seen.leaks(s)).toEqual([]);
  }, 30_000);
});
