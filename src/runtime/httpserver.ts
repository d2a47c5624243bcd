/**
 * Tiny HTTP servers for probes and metrics: bind-address parsing (controller-runtime style: `:8080`,
 * `127.0.0.1:0` for an ephemeral port, `0` to disable) and a listen helper that reports the real port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BindAddress {
  /** Undefined: all interfaces. */
  host: string | undefined;
  port: number;
}

/** `:8080`, `0.0.0.0:8080`, `127.0.0.1:0`, `[::1]:9090`; `0`, `off` or empty disable the server (undefined). */
export function parseBindAddress(address: string): BindAddress | undefined {
  const a = address.trim();
  if (a === '' || a === '0' || a.toLowerCase() === 'off' || a.toLowerCase() === 'false') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(a) ?? /^()()(\d+)$/.exec(a);
  if (!m) throw new Error(`bad bind address "${address}": expected host:port or :port`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in bind address "${address}"`);
  const host = m[1] || m[2] || undefined;
  return { host, port };
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface RunningServer {
  server: Server;
  port: number;
  /** `http://host:port` as reachable from this machine. */
  url: string;
  close(): Promise<void>;
}

export function listen(bind: BindAddress, handler: Handler): Promise<RunningServer> {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  // Probes and scrapes are short; don't let idle keep-alive sockets hold shutdown up.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = !bind.host || bind.host === '0.0.0.0' || bind.host === '::' ? '127.0.0.1' : bind.host.includes(':') ? `[${bind.host}]` : bind.host;
      resolve({
        server,
        port,
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}
