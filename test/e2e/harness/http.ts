import { request, type OutgoingHttpHeaders } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface HttpGetOptions {
  headers?: OutgoingHttpHeaders;
  timeoutMs?: number;
}

/**
 * One plain-HTTP GET with no connection reuse. Not global fetch: its keep-alive
 * pool would hold sockets to the servers under test open, which slows their
 * graceful shutdown and keeps jest from exiting.
 */
export function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpResponse> {
  const { headers = {}, timeoutMs = 5000 } = options;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: { ...headers, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
