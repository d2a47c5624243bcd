/**
 * A TCP proxy on 127.0.0.1 in front of the API server for the reliability suite: it adds latency to every chunk
 * the server sends (slow responses), drops every open connection on demand (a load balancer reset), and counts
 * connections. TLS passes through untouched, so the operator talks to the real apiserver certificate.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class LatencyProxy {
  latencyMs = 0;
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<LatencyProxy> {
    const holder: { proxy?: LatencyProxy } = {};
    const server = createServer((client) => holder.proxy?.accept(client, targetPort));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('proxy has no port');
    holder.proxy = new LatencyProxy(server, addr.port);
    return holder.proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket, targetPort: number): void {
    this.connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
    client.on('data', (d: Buffer) => upstream.write(d));
    // Responses (and watch events) arrive late, in order: each chunk waits its turn behind the previous one.
    let queue = Promise.resolve();
    upstream.on('data', (d: Buffer) => {
      const ms = this.latencyMs;
      if (ms <= 0) {
        queue = queue.then(() => void client.write(d));
        return;
      }
      queue = queue.then(() => new Promise<void>((r) => setTimeout(() => (client.write(d), r()), ms)));
    });
  }

  /** Resets every open connection (clients reconnect; watches restart from their last resourceVersion). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
