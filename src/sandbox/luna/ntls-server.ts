/**
 * An appliance's NTLS listener: real mutual TLS 1.2 on 127.0.0.1. It presents the appliance's server
 * certificate and accepts exactly the registered client certificates (compared by DER). An unregistered or
 * stale client certificate gets a fatal `unknown_ca` alert during the handshake, as in the guide's NTLS log.
 */
import { once } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { IssuedCertificate } from '../../pki/index.js';
import type { LoginCounters } from './counters.js';
import { ClientCertificateInspector, UNKNOWN_CA_ALERT } from './tls-inspector.js';

export interface NtlsServerOptions {
  serverCert: () => IssuedCertificate;
  /** Registered clients: name and certificate. */
  clients: () => { name: string; certPem: string; certDer: Buffer }[];
  port?: number;
}

export class SimNtlsServer {
  readonly log: string[] = [];
  readonly handshakes: LoginCounters = { success: 0, failure: 0 };
  #server: NetServer | undefined;
  #port: number;
  #context: SecureContext;
  readonly #sockets = new Set<Socket>();
  readonly #opts: NtlsServerOptions;
  readonly #pid = 8000 + Math.floor(Math.random() * 999);

  constructor(opts: NtlsServerOptions) {
    this.#opts = opts;
    this.#port = opts.port ?? 0;
    this.#context = this.#makeContext();
  }

  get port(): number {
    return this.#port;
  }

  #makeContext(): SecureContext {
    const server = this.#opts.serverCert();
    const clients = this.#opts.clients();
    return createSecureContext({
      cert: server.certPem,
      key: server.keyPem,
      // Names the registered certificates in the CertificateRequest; trust itself is decided by DER below.
      ...(clients.length ? { ca: clients.map((c) => c.certPem) } : {}),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
  }

  #say(line: string): void {
    this.log.push(`NTLS[${this.#pid}]: ${line}`);
  }

  #registered(der: Buffer): string | undefined {
    return this.#opts.clients().find((c) => c.certDer.equals(der))?.name;
  }

  /** Re-reads the server certificate and the registered clients (after register, delete, regenCert). */
  refresh(): void {
    this.#context = this.#makeContext();
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((raw) => this.#accept(raw));
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Stops listening and drops every connection: NTLS refuses until `start()`. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  #accept(raw: Socket): void {
    const who = `${raw.remoteAddress}/${raw.remotePort}`;
    this.#sockets.add(raw);
    raw.on('close', () => this.#sockets.delete(raw));
    raw.on('error', () => undefined);
    this.#say(`info : 0 : Incoming connection request... : ${who}`);
    let failed = false;
    const fail = (message: string): void => {
      if (failed) return;
      failed = true;
      this.handshakes.failure++;
      this.#say(`Error message from SSLAccept is : ${message}`);
      this.#say('Error during SSL accept ( RC_SSL_ERROR )');
      this.#say(`info : 0xc0000711 : Fail to establish a secure channel with client : ${who} : RC_SSL_FAILED_HANDSHAKE`);
      this.#say(`info : 0 : NTLS Client "Unknown host name" Connection instance removed : ${who}`);
    };
    const inspector = new ClientCertificateInspector((der) => this.#registered(der) !== undefined);
    const inner = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (raw.writable) raw.write(chunk, () => cb());
        else cb();
      },
      final(cb) {
        raw.end();
        cb();
      },
      destroy(err, cb) {
        raw.destroy();
        cb(err);
      },
    });
    raw.on('data', (d: Buffer) => {
      const forward = inspector.feed(d);
      if (forward.length) inner.push(forward);
      if (inspector.verdict === 'reject' && !failed) {
        fail('error:0A000086:SSL routines:tls_process_client_certificate:certificate verify failed (client certificate not registered)');
        raw.end(UNKNOWN_CA_ALERT);
      }
    });
    raw.on('end', () => inner.push(null));
    raw.on('close', () => inner.destroy());
    const tls = new TLSSocket(inner, { isServer: true, secureContext: this.#context, requestCert: true, rejectUnauthorized: false });
    tls.on('error', (err: Error) => fail(err.message));
    tls.on('secure', () => {
      const peer = tls.getPeerCertificate();
      const name = peer.raw ? this.#registered(peer.raw) : undefined;
      if (name === undefined) {
        fail('peer did not return a registered certificate');
        tls.destroy();
        return;
      }
      this.handshakes.success++;
      this.#say(`info : 0 : NTLS Client "${name}" Connection instance added : ${who}`);
      tls.on('close', () => this.#say(`info : 0 : NTLS Client "${name}" Connection instance removed : ${who}`));
    });
  }
}
