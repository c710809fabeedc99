import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Sends `head` (a request line and headers, sent byte for byte, as latin1) on a fresh connection
 * and reads until the server closes it: for what no HTTP client will send (NUL and spaces in the
 * path, absolute-form targets, CONNECT). Resolves with status 0 if the server closed without a word.
 */
export function rawRequest(port: number, head: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks)));
    });
    socket.write(typeof head === 'string' ? Buffer.from(head, 'latin1') : head);
  });
}

/** `GET <target> HTTP/1.1` with a Host and `Connection: close`, plus any extra header lines. */
export function rawGet(port: number, target: string | Buffer, extraHeaders: string[] = []): Promise<RawResponse> {
  const line = Buffer.concat([Buffer.from('GET '), typeof target === 'string' ? Buffer.from(target, 'latin1') : target, Buffer.from(' HTTP/1.1\r\n')]);
  const headers = ['Host: 127.0.0.1', 'Connection: close', ...extraHeaders].map((h) => `${h}\r\n`).join('');
  return rawRequest(port, Buffer.concat([line, Buffer.from(`${headers}\r\n`, 'latin1')]));
}

function parse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: raw };
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const colon = l.indexOf(':');
    if (colon > 0) headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body };
}

/** The OCI error code of a JSON error body (`{"errors":[{"code":…}]}`), or undefined if it is not one. */
export function ociCode(body: Buffer): string | undefined {
  try {
    const code: unknown = JSON.parse(body.toString('utf8')).errors[0].code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
