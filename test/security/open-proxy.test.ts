import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';
import { ociCode, rawGet, rawRequest } from './raw-http.js';

/**
 * Never an open proxy: whatever a request names (a query parameter, a path prefix, an absolute URL,
 * a Host header), the mirror talks only to configured upstreams. "evil" is a listener on 127.0.0.1
 * that no upstream points at; every test ends by checking it was never connected to.
 */
describe('never an open proxy', () => {
  let m: MirrorUnderTest;
  let evil: Server;
  let evilHost: string;
  let connections = 0;
  let port: number;

  beforeAll(async () => {
    evil = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    evilHost = `127.0.0.1:${(evil.address() as AddressInfo).port}`;
    m = await startMirror();
    port = (m.server.server.address() as AddressInfo).port;
    m.hub.addImage('library/x', 'latest');
  });
  afterAll(async () => {
    await m.close();
    await new Promise((r) => evil.close(r));
  });
  afterEach(() => expect(connections).toBe(0));

  test.each([
    ['?ns= naming it', () => `/v2/x/manifests/latest?ns=${evilHost}`],
    ['?ns= naming it, for a blob', () => `/v2/x/blobs/sha256:${'a'.repeat(64)}?ns=${evilHost}`],
    ['?ns= naming it, for tags', () => `/v2/x/tags/list?ns=${evilHost}`],
    ['?ns= as a URL', () => `/v2/x/manifests/latest?ns=${encodeURIComponent(`http://${evilHost}/`)}`],
    ['?ns= with userinfo', () => `/v2/x/manifests/latest?ns=docker.io@${evilHost}`],
    ['?ns= the cloud metadata address', () => '/v2/x/manifests/latest?ns=169.254.169.254'],
    ['a /<host>/v2/ prefix', () => `/${evilHost}/v2/x/manifests/latest`],
    ['a registry host as the first name component', () => '/v2/localhost/x/manifests/latest'],
    ['a dotted first name component', () => '/v2/127.0.0.1/x/manifests/latest'],
  ])('%s → 404 NAME_UNKNOWN, no connection', async (_name, path) => {
    const res = await m.getRaw(path());
    expect([res.status, ociCode(res.body)]).toEqual([404, 'NAME_UNKNOWN']);
  });

  test('a port in the name is not a name: 400 NAME_INVALID', async () => {
    const res = await m.getRaw(`/v2/${evilHost}/x/manifests/latest`);
    expect([res.status, ociCode(res.body)]).toEqual([400, 'NAME_INVALID']);
  });

  test.each(['/v2/x/manifests/latest', '/v2/', '/healthz'])('an absolute URL in the request line (GET http://evil%s) → 400 BAD_REQUEST', async (path) => {
    const res = await rawGet(port, `http://${evilHost}${path}`);
    expect([res.status, ociCode(res.body)]).toEqual([400, 'BAD_REQUEST']);
    expect(json(res.body).errors[0].message).toMatch(/not an HTTP proxy/);
  });

  test('CONNECT is refused: the connection closes with no tunnel', async () => {
    const res = await rawRequest(port, `CONNECT ${evilHost} HTTP/1.1\r\nHost: ${evilHost}\r\n\r\n`);
    expect(res.status).not.toBe(200);
  });

  test('Host, X-Forwarded-Host and Forwarded pointing elsewhere are ignored: the configured upstream answers', async () => {
    m.hub.resetCounts();
    const res = await rawGet(port, '/v2/x/manifests/latest', [
      `X-Forwarded-Host: ${evilHost}`,
      `Forwarded: host=${evilHost};proto=http`,
      'X-Forwarded-Proto: http',
      `Accept: ${CLIENT_ACCEPT}`,
    ]);
    expect(res.status).toBe(200);
    const hosted = await rawRequest(port, `GET /v2/x/manifests/latest HTTP/1.1\r\nHost: ${evilHost}\r\nAccept: ${CLIENT_ACCEPT}\r\nConnection: close\r\n\r\n`);
    expect(hosted.status).toBe(200);
    expect(m.hub.count({ kind: 'manifest', method: 'GET', status: 200 })).toBe(1);
  });
});
