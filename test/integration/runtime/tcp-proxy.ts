/**
 * A TCP proxy on 127.0.0.1 in front of the API server that can misbehave the way load balancers do:
 * - `stallExisting()`: open connections stop forwarding in both directions but stay open (a silent stall);
 * - `freeze()`: like stallExisting, and new connections are accepted but never forwarded either;
 * - `thaw()`: frozen connections are reset, new ones forward normally again.
 * TLS passes through untouched, so clients talk to the real apiserver certificate.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  stalled: boolean;
}

export class StallingProxy {
  private readonly pairs = new Set<Pair>();
  private frozen = false;
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<StallingProxy> {
    const holder: { proxy?: StallingProxy } = {};
    const server = createServer((client) => holder.proxy?.accept(client, targetPort));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('proxy has no port');
    holder.proxy = new StallingProxy(server, addr.port);
    return holder.proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket, targetPort: number): void {
    this.connections++;
    const pair: Pair = { client, upstream: undefined, stalled: this.frozen };
    this.pairs.add(pair);
    const drop = () => {
      client.destroy();
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', drop);
    client.on('close', drop);
    if (pair.stalled) {
      client.pause(); // accepted, never answered
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', drop);
    upstream.on('close', drop);
    client.on('data', (d: Buffer) => {
      if (!pair.stalled) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!pair.stalled) client.write(d);
    });
  }

  /** Open connections go silent (bytes are swallowed), without being closed. New connections work. */
  stallExisting(): void {
    for (const p of this.pairs) p.stalled = true;
  }

  /** Everything goes silent, open and new connections alike. */
  freeze(): void {
    this.frozen = true;
    this.stallExisting();
  }

  /** Resets the silent connections and forwards new ones again. */
  thaw(): void {
    this.frozen = false;
    for (const p of [...this.pairs]) {
      if (!p.stalled) continue;
      p.client.resetAndDestroy();
      p.upstream?.destroy();
      this.pairs.delete(p);
    }
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}
