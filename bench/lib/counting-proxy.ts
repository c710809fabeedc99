import { connect, createServer, type Server, type Socket } from 'node:net';
import { LOOPBACK } from '../../test/e2e/harness/ports.js';

/**
 * A TCP relay in front of the upstream registry that counts the bytes the
 * upstream sends, whatever the protocol details (keep-alive, ranges, retries).
 * Measurement only: the cold-herd scenario points a mirror at it to see how
 * many times the mirror fetched a blob.
 */
export class CountingProxy {
  /** Bytes from the upstream to its clients since the last reset(). */
  bytesFromUpstream = 0;
  /** TCP connections opened to the upstream since the last reset(). */
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(upstreamPort: number): Promise<CountingProxy> {
    // The server exists before the instance, so the connection handler reaches the instance through a holder.
    const holder: { proxy?: CountingProxy } = {};
    const server = createServer((client) => holder.proxy!.relay(client, upstreamPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, LOOPBACK, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error(`unexpected listen address: ${String(address)}`);
    holder.proxy = new CountingProxy(server, address.port);
    return holder.proxy;
  }

  get url(): string {
    return `http://${LOOPBACK}:${this.port}`;
  }

  reset(): void {
    this.bytesFromUpstream = 0;
    this.connections = 0;
  }

  async dispose(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, upstreamPort: number): void {
    const upstream = connect(upstreamPort, LOOPBACK);
    this.connections += 1;
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // Either side failing ends both; the mirror sees a cut connection, as it would in the wild.
      socket.once('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.on('data', (chunk: Buffer) => {
      this.bytesFromUpstream += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
