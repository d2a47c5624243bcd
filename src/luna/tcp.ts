/**
 * One TCP connect with a deadline, nothing sent, the socket closed at once: whether a device port answers at all
 * (the guide's "at a minimum TCP port 1792" for NTLS; an appliance's SSH port before a `hagroup recover`).
 */
import { connect } from 'node:net';
import { DeviceAbortedError } from './errors.js';

export type TcpProbe = { ok: true } | { ok: false; timedOut: boolean; code?: string; detail: string };

export interface TcpProbeOptions {
  /** An aborted signal opens no socket; one that fires while connecting destroys it. Either rejects with DeviceAbortedError. */
  signal?: AbortSignal;
}

export function probeTcpPort(address: { host: string; port: number }, timeoutMs: number, opts: TcpProbeOptions = {}): Promise<TcpProbe> {
  const what = `TCP connect to port ${address.port}`;
  if (opts.signal?.aborted) return Promise.reject(new DeviceAbortedError(address.host, what, false));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port });
    let settled = false;
    const done = (r: TcpProbe | DeviceAbortedError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', abort);
      socket.destroy();
      if (r instanceof DeviceAbortedError) reject(r);
      else resolve(r);
    };
    const abort = (): void => done(new DeviceAbortedError(address.host, what, true));
    const timer = setTimeout(() => done({ ok: false, timedOut: true, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
    opts.signal?.addEventListener('abort', abort, { once: true });
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, timedOut: false, ...(e.code ? { code: e.code } : {}), detail: e.message }));
  });
}
