/**
 * The SSH side shared by the appliance and LunaCM host simulators: an ssh2 Server on 127.0.0.1 behind a
 * plain TCP listener (so it can go down, come back on the same port, and change its host key), password and
 * public-key logins counted by outcome, exec channels handed to an interpreter, and scriptable faults:
 * latency, dropped connections (before or in the middle of a command), idle drops.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey, ServerChannel } from 'ssh2';
import { sshHostKeyFingerprint } from '../../pki/index.js';

const { Server, utils } = ssh2;

export interface SimUser {
  password?: string;
  /** OpenSSH public keys (`ssh-ed25519 AAAA...`). */
  publicKeys?: string[];
}

/** What an interpreter gets for one exec channel. */
export interface ExecIo {
  readonly username: string;
  readonly command: string;
  /** Whether the channel is gone (client closed it, timed out, connection dropped). */
  readonly closed: boolean;
  write(text: string | Buffer): void;
  writeStderr(text: string): void;
  /** Next stdin line without its line ending, or null at end of input. */
  readLine(): Promise<string | null>;
  /** Exactly n stdin bytes, or null if input ends first. */
  readBytes(n: number): Promise<Buffer | null>;
}

export type Interpreter = (io: ExecIo) => Promise<number>;

export interface SshServerCounters {
  /** TCP connections accepted. */
  connections: number;
  sshLogins: { success: number; failure: number };
  execs: number;
  openChannels: number;
  maxOpenChannels: number;
}

export interface SshFaults {
  /** Delay before every command's output. */
  latencyMs: number;
  /** Extra delay for commands whose line starts with a key (e.g. `hsm show`, `lunacm -q hagroup listgroups`). */
  latencyByCommand: Map<string, number>;
  /** Queue of faults for the next exec channels: drop the connection before running, or after the first output. */
  dropNext: ('before' | 'mid')[];
  /** Drop connections without channel activity for this long (Luna drops idle sessions); 0 = never. */
  idleTimeoutMs: number;
  /**
   * Confirm a channel close only once the command has ended (a peer whose commands outlive their channel). Reported
   * of a real sshd in issue 18; OpenSSH 9.2 in the conformance tier confirms at once, so this is a fault to script.
   */
  closeOnlyWhenCommandEnds: boolean;
}

export interface SimSshServerOptions {
  users: (username: string) => SimUser | undefined;
  interpreter: Interpreter;
  port?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator drops leading zero bytes of the public key now and
 * then (about 1 in 170 keys), producing a key its own parser rejects; such pairs are drawn again.
 */
export function generateSshKeyPair(): { private: string; public: string; publicBlob: Buffer } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    const pub = utils.parseKey(pair.public);
    const priv = utils.parseKey(pair.private);
    if (pub instanceof Error || priv instanceof Error) continue;
    const key = Array.isArray(pub) ? (pub[0] as ParsedKey) : pub;
    return { private: pair.private, public: pair.public, publicBlob: key.getPublicSSH() };
  }
}

export function generateHostKey(): { private: string; fingerprint: string } {
  const pair = generateSshKeyPair();
  return { private: pair.private, fingerprint: sshHostKeyFingerprint(pair.publicBlob) };
}

class ChannelIo implements ExecIo {
  closed = false;
  #buf: Buffer = Buffer.alloc(0);
  #eof = false;
  #wake: (() => void) | undefined;
  constructor(
    readonly username: string,
    readonly command: string,
    readonly channel: ServerChannel,
    private readonly onFirstWrite: (() => void) | undefined,
  ) {
    channel.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#poke();
    });
    channel.on('end', () => {
      this.#eof = true;
      this.#poke();
    });
    channel.on('close', () => {
      this.closed = true;
      this.#eof = true;
      this.#poke();
    });
  }
  #poke(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }
  async #until(ready: () => boolean): Promise<boolean> {
    while (!ready()) {
      if (this.#eof) return false;
      await new Promise<void>((r) => (this.#wake = r));
    }
    return true;
  }
  write(text: string | Buffer): void {
    if (this.closed) return;
    const drop = this.onFirstWrite;
    if (!drop) {
      this.channel.write(text);
      return;
    }
    // Mid-command drop: part of the output goes out, then the connection dies before the command ends.
    const bytes = Buffer.from(text);
    this.channel.write(bytes.subarray(0, Math.ceil(bytes.length / 2)));
    this.closed = true;
    drop();
  }
  writeStderr(text: string): void {
    if (!this.closed) this.channel.stderr.write(text);
  }
  async readLine(): Promise<string | null> {
    if (!(await this.#until(() => this.#buf.includes(0x0a)))) {
      if (this.#buf.length === 0) return null;
      const rest = this.#buf.toString('utf8');
      this.#buf = Buffer.alloc(0);
      return rest;
    }
    const i = this.#buf.indexOf(0x0a);
    const line = this.#buf.subarray(0, i).toString('utf8').replace(/\r$/, '');
    this.#buf = this.#buf.subarray(i + 1);
    return line;
  }
  async readBytes(n: number): Promise<Buffer | null> {
    if (!(await this.#until(() => this.#buf.length >= n))) return null;
    const out = Buffer.from(this.#buf.subarray(0, n));
    this.#buf = this.#buf.subarray(n);
    return out;
  }
}

export class SimSshServer {
  readonly counters: SshServerCounters = { connections: 0, sshLogins: { success: 0, failure: 0 }, execs: 0, openChannels: 0, maxOpenChannels: 0 };
  readonly faults: SshFaults = { latencyMs: 0, latencyByCommand: new Map(), dropNext: [], idleTimeoutMs: 0, closeOnlyWhenCommandEnds: false };
  #hostKey = generateHostKey();
  #ssh = this.#makeSsh();
  #net: NetServer | undefined;
  #port: number;
  readonly #sockets = new Map<number, Socket>();
  readonly #opts: SimSshServerOptions;

  constructor(opts: SimSshServerOptions) {
    this.#opts = opts;
    this.#port = opts.port ?? 0;
  }

  get port(): number {
    return this.#port;
  }

  get hostKeyFingerprint(): string {
    return this.#hostKey.fingerprint;
  }

  get isUp(): boolean {
    return this.#net !== undefined;
  }

  async start(): Promise<void> {
    if (this.#net) return;
    const net = createServer((socket) => this.#accept(socket));
    net.listen(this.#port, '127.0.0.1');
    await once(net, 'listening');
    this.#port = (net.address() as { port: number }).port;
    this.#net = net;
  }

  /** Stops listening and drops every connection: the host refuses SSH until `start()`. */
  async stop(): Promise<void> {
    const net = this.#net;
    this.#net = undefined;
    this.dropConnections();
    if (net) await new Promise<void>((r) => net.close(() => r()));
  }

  dropConnections(): void {
    for (const s of this.#sockets.values()) s.destroy();
    this.#sockets.clear();
  }

  /** A new host key (as after a reinstall or a man in the middle); existing connections drop. */
  changeHostKey(): string {
    this.#hostKey = generateHostKey();
    this.#ssh = this.#makeSsh();
    this.dropConnections();
    return this.#hostKey.fingerprint;
  }

  #accept(socket: Socket): void {
    this.counters.connections++;
    const port = socket.remotePort ?? -1;
    this.#sockets.set(port, socket);
    socket.on('close', () => {
      if (this.#sockets.get(port) === socket) this.#sockets.delete(port);
    });
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    this.#ssh.injectSocket(socket);
  }

  #makeSsh(): InstanceType<typeof Server> {
    return new Server({ hostKeys: [this.#hostKey.private] }, (client, info) => this.#onClient(client, info.port));
  }

  #onClient(client: Connection, remotePort: number): void {
    let username = '';
    let idle: NodeJS.Timeout | undefined;
    const socket = (): Socket | undefined => this.#sockets.get(remotePort);
    const touch = (): void => {
      clearTimeout(idle);
      if (this.faults.idleTimeoutMs > 0) idle = setTimeout(() => socket()?.destroy(), this.faults.idleTimeoutMs);
    };
    client.on('error', () => undefined);
    client.on('close', () => clearTimeout(idle));
    client.on('authentication', (ctx) => {
      const user = this.#opts.users(ctx.username);
      if (ctx.method === 'password') {
        const ok = user?.password !== undefined && ctx.password === user.password;
        this.counters.sshLogins[ok ? 'success' : 'failure']++;
        if (ok) username = ctx.username;
        return ok ? ctx.accept() : ctx.reject(['password', 'publickey']);
      }
      if (ctx.method === 'publickey') {
        const key = (user?.publicKeys ?? [])
          .map((k) => utils.parseKey(k))
          .map((k) => (Array.isArray(k) ? k[0] : k))
          .find((k): k is ParsedKey => !!k && !(k instanceof Error) && k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
        if (!key) {
          this.counters.sshLogins.failure++;
          return ctx.reject(['password', 'publickey']);
        }
        if (!ctx.signature) return ctx.accept(); // key query, not a login attempt
        const ok = ctx.blob !== undefined && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
        this.counters.sshLogins[ok ? 'success' : 'failure']++;
        if (ok) username = ctx.username;
        return ok ? ctx.accept() : ctx.reject(['password', 'publickey']);
      }
      return ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      touch();
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          touch();
          const ch = accept();
          void this.#exec(username, info.command, ch, socket).finally(touch);
        });
        session.on('pty', (_a, reject) => reject?.());
        session.on('shell', (_a, reject) => reject());
      });
    });
  }

  async #exec(username: string, command: string, ch: ServerChannel, socket: () => Socket | undefined): Promise<void> {
    this.counters.execs++;
    this.counters.openChannels++;
    this.counters.maxOpenChannels = Math.max(this.counters.maxOpenChannels, this.counters.openChannels);
    ch.on('close', () => this.counters.openChannels--);
    // A close the client asks for is confirmed only when the command ends (see SshFaults.closeOnlyWhenCommandEnds).
    const confirmClose = ch.close.bind(ch);
    let closeAsked = false;
    if (this.faults.closeOnlyWhenCommandEnds) {
      ch.close = ((): ServerChannel => {
        closeAsked = true;
        return ch;
      }) as ServerChannel['close'];
    }
    const fault = this.faults.dropNext.shift();
    if (fault === 'before') {
      socket()?.destroy();
      return;
    }
    const io = new ChannelIo(username, command, ch, fault === 'mid' ? () => socket()?.destroy() : undefined);
    let latency = this.faults.latencyMs;
    for (const [prefix, ms] of this.faults.latencyByCommand) if (command.startsWith(prefix)) latency += ms;
    if (latency > 0) await sleep(latency);
    if (io.closed) {
      ch.close = confirmClose;
      if (closeAsked) confirmClose();
      return;
    }
    let code: number;
    try {
      code = await this.#opts.interpreter(io);
    } catch {
      io.writeStderr('internal simulator error\n');
      code = 1;
    }
    // The command has ended: closes go through again, and one the client asked for is confirmed now.
    ch.close = confirmClose;
    if (closeAsked) {
      confirmClose();
      return;
    }
    if (io.closed) return;
    ch.exit(code);
    ch.end();
  }
}
