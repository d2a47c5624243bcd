/**
 * One TCP connect with a deadline, nothing sent, the socket closed at once: whether a device port answers at all
 * (the guide's "at a minimum TCP port 1792" for NTLS; an appliance's SSH port before a `hagroup recover`).
 */
import { connect } from 'node:net';

export type TcpProbe = { ok: true } | { ok: false; timedOut: boolean; code?: string; detail: string };

export function probeTcpPort(address: { host: string; port: number }, timeoutMs: number): Promise<TcpProbe> {
  return new Promise((resolve) => {
    const socket = connect({ host: address.host, port: address.port });
    let settled = false;
    const done = (r: TcpProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, timedOut: true, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, timedOut: false, ...(e.code ? { code: e.code } : {}), detail: e.message }));
  });
}
