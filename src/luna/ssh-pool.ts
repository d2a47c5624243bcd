/**
 * SSH sessions to appliances and LunaCM hosts: one connection per (host, port, user, credential value), commands
 * multiplexed as exec channels with a per-host concurrency bound (lowered to the server's own session limit when it
 * refuses a channel), keep-alive, reconnect with backoff, per-command timeouts that cost only their own channel, and
 * idle close.
 *
 * Host keys are pinned (invariant 5): a pin of any key the host holds works (host-key.ts); when no key of the host
 * matches, the connection is refused with HostKeyMismatchError and every later call to that host:port is refused
 * without touching the network until the caller passes a different pin. Trust on first use happens only when the
 * endpoint asks for it, and what was seen is reported through `onHostKey` / `observedHostKey()`.
 *
 * Logins go through the credential guard (invariant 1): a rejected credential value is never sent again, and a
 * credential counts as rejected only when the server checked it (ssh-auth.ts: password or keyboard-interactive).
 */
import { connect as netConnect } from 'node:net';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { sshHostKeyFingerprint } from '../pki/index.js';
import { validHost, validPort } from './args.js';
import { raceAbort, throwIfAborted } from './abort.js';
import {
  AuthenticationRejectedError,
  DeviceAbortedError,
  HostKeyMismatchError,
  LunaError,
  NotLeaderError,
  SshCommandTimeoutError,
  SshConnectionError,
  SshConnectionLostError,
  SshPoolClosedError,
} from './errors.js';
import { CredentialGuard, guardHostOf, type GuardRole, type SecretVersion } from './guard.js';
import { HOST_KEY_ALGORITHMS, HOST_KEY_TYPES, hostKeyTypeOfBlob, normalizeHostKeyPin, parseHostKeyPin, type HostKeyType } from './host-key.js';
import { passwordAuthHandler, SshAuthUnsupportedError, type PasswordLogin } from './ssh-auth.js';

export { normalizeHostKeyPin, parseHostKeyPin, type HostKeyPin, type HostKeyType } from './host-key.js';
export { SshAuthUnsupportedError } from './ssh-auth.js';

export interface SshCredential {
  password?: string;
  privateKey?: string | Buffer;
  passphrase?: string;
  /** The Secret version the values were read from: the guard's key. */
  secret: SecretVersion;
}

/** A pinned key (`SHA256:...`, or a whole `ssh-keygen -l` line naming its type), or an explicit trust-on-first-use opt-in. */
export type HostKeyPolicy = { pinned: string; trustOnFirstUse?: undefined } | { trustOnFirstUse: true; pinned?: undefined };

export interface SshEndpoint {
  host: string;
  port?: number;
  username: string;
  credential: SshCredential;
  hostKey: HostKeyPolicy;
  role?: Extract<GuardRole, 'appliance-ssh' | 'lunacm-ssh'>;
  /** Exec channels this host is given at once (a DedicatedHsm's spec.appliance.maxChannels); default: the pool's. */
  maxChannels?: number;
}

export interface HostKeyEvent {
  host: string;
  port: number;
  fingerprint: string;
  outcome: 'verified' | 'trusted-on-first-use' | 'mismatch';
  expected?: string;
}

export interface SshPoolOptions {
  guard?: CredentialGuard;
  /** Concurrent exec channels per connection; further commands queue in arrival order. */
  maxChannelsPerHost?: number;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Close a connection with no channel and no queued command after this long. */
  idleCloseMs?: number;
  /** Connection attempts per call for network failures, with exponential backoff between them. */
  connectAttempts?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /**
   * How long a timed-out channel may take to confirm its close (a real sshd confirms only once the remote command
   * exits) before its connection is retired: no new command goes to it, the commands running on it finish there, and
   * it is closed when its last channel closes. A timeout never costs the other commands on the connection.
   */
  closeGraceMs?: number;
  onHostKey?: (event: HostKeyEvent) => void;
  /**
   * Asked right before a connection is opened or a command is sent; false refuses the call (NotLeaderError) with
   * nothing sent. The operator passes "this process still holds the leader Lease", so a process that lost it (or
   * was frozen past its renew deadline) never acts on a device again, even from a reconcile already in flight.
   */
  fence?: () => boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Written to the channel's stdin, which is then closed. */
  stdin?: string | Buffer;
  /** What to call the command in errors (defaults to the first word); never include secrets. */
  display?: string;
  /** Run again once on a new connection if the connection drops mid-command: only for read-only commands. */
  retryOnDrop?: boolean;
  /**
   * Aborts the call (DeviceAbortedError). Before the command is sent (queued for a slot, connecting) nothing is sent;
   * once it runs, its channel is closed exactly as on a timeout (the connection is retired if the peer does not
   * confirm the close within `closeGraceMs`), and it is never run again.
   */
  signal?: AbortSignal;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  signal?: string;
  hostKeyFingerprint: string;
}

export interface SshPoolCounters {
  connectionAttempts: number;
  connectionsOpened: number;
  connectionsClosed: number;
  commandsRun: number;
  commandsFailed: number;
  commandsTimedOut: number;
  /** Commands abandoned in flight because the caller's signal aborted (their channel closed as on a timeout). */
  commandsAborted: number;
  commandsDropped: number;
  /** Calls refused because the host's key does not match its pin. */
  refusedByHostKey: number;
  openChannels: number;
  maxOpenChannels: number;
  queued: number;
}

const zeroCounters = (): SshPoolCounters => ({
  connectionAttempts: 0,
  connectionsOpened: 0,
  connectionsClosed: 0,
  commandsRun: 0,
  commandsFailed: 0,
  commandsTimedOut: 0,
  commandsAborted: 0,
  commandsDropped: 0,
  refusedByHostKey: 0,
  openChannels: 0,
  maxOpenChannels: 0,
  queued: 0,
});

/** The channel a `withChannel` callback drives (scp, interactive dialogs). */
export type SshChannel = ClientChannel;

interface Live {
  client: Client;
  fingerprint: string;
  lost: boolean;
  /** Channels open on this connection. */
  channels: number;
  /** No new channels: ended when the last one closes. */
  retired: boolean;
  /** Woken whenever a channel of this connection closes (commands waiting for the server's session limit). */
  closeWaiters: (() => void)[];
  /** The family of the host key this connection verified. */
  keyType?: HostKeyType;
}

class HostSession {
  live: Live | undefined;
  connecting: Promise<Live> | undefined;
  active = 0;
  readonly waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  idleTimer: NodeJS.Timeout | undefined;
  /** Channels the server accepts at once, learnt when it refused one (sshd MaxSessions); undefined until then. */
  serverLimit: number | undefined;
  /** Channels its owner gives this host (the endpoint's maxChannels, as last asked); undefined: the pool's default. */
  ownerLimit: number | undefined;
  /** Connections retired after a timed-out channel that the server did not close: ended when their channels are. */
  readonly retired = new Set<Live>();
  readonly counters = zeroCounters();
  constructor(
    readonly host: string,
    readonly port: number,
    readonly username: string,
  ) {}
  get hostPort(): string {
    return `${this.host}:${this.port}`;
  }
}

/** Raised inside the pool when a channel could not be opened: the command never ran, so a retry is safe. */
class ChannelOpenFailed extends Error {}

/** Inside a handshake: the host presented a key other than the expected one (not yet a verdict on the host). */
class KeyNotExpected extends Error {
  constructor(
    readonly seen: string,
    readonly keyType: HostKeyType | undefined,
  ) {
    super(`host key ${seen}`);
  }
}

/** Inside a handshake: the host holds no key of the family asked for. */
class NoKeyOfFamily extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Channel refusals on a live connection one command waits through before it fails. */
const MAX_CHANNEL_REFUSALS = 20;

/** The key type a pin names (a whole `ssh-keygen -l` line), if any. */
function pinnedKeyType(pin: string): HostKeyType | undefined {
  try {
    return parseHostKeyPin(pin).keyType;
  } catch {
    return undefined;
  }
}

const pinOf = (ep: SshEndpoint): string | undefined => (ep.hostKey.pinned === undefined ? undefined : normalizeHostKeyPin(ep.hostKey.pinned));

export class SshPool {
  readonly guard: CredentialGuard;
  readonly #opts: Required<Omit<SshPoolOptions, 'guard' | 'onHostKey' | 'fence'>> & Pick<SshPoolOptions, 'onHostKey' | 'fence'>;
  readonly #sessions = new Map<string, HostSession>();
  readonly #blocked = new Map<string, { expected: string; seen: string; at: Date }>();
  readonly #firstSeen = new Map<string, string>();
  /** The key family that matched the pin per host:port: later connections negotiate it directly. */
  readonly #keyTypes = new Map<string, HostKeyType>();
  readonly #counters = zeroCounters();
  #closed = false;

  constructor(opts: SshPoolOptions = {}) {
    this.guard = opts.guard ?? new CredentialGuard();
    this.#opts = {
      maxChannelsPerHost: opts.maxChannelsPerHost ?? 4,
      commandTimeoutMs: opts.commandTimeoutMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
      idleCloseMs: opts.idleCloseMs ?? 10_000,
      connectAttempts: opts.connectAttempts ?? 3,
      backoffInitialMs: opts.backoffInitialMs ?? 200,
      backoffMaxMs: opts.backoffMaxMs ?? 5_000,
      closeGraceMs: opts.closeGraceMs ?? 2_000,
      onHostKey: opts.onHostKey,
      fence: opts.fence,
    };
  }

  /** Pool-wide counters (a snapshot). */
  counters(): SshPoolCounters {
    return { ...this.#counters };
  }

  /** Counters of one (host, port, user) connection, or undefined if it was never used. */
  hostCounters(host: string, port: number, username: string): SshPoolCounters | undefined {
    const prefix = `${host}:${port}:${username}#`;
    const sessions = [...this.#sessions].filter(([k]) => k.startsWith(prefix)).map(([, s]) => s.counters);
    if (!sessions.length) return undefined;
    const sum = zeroCounters();
    for (const c of sessions) for (const k of Object.keys(sum) as (keyof SshPoolCounters)[]) sum[k] = k === 'maxOpenChannels' ? Math.max(sum[k], c[k]) : sum[k] + c[k];
    return sum;
  }

  /** The fingerprint accepted on first use for host:port (trust-on-first-use endpoints only). */
  observedHostKey(host: string, port = 22): string | undefined {
    return this.#firstSeen.get(`${host}:${port}`);
  }

  /** Hosts refused because of a host-key mismatch, with expected and seen fingerprints. */
  blockedHosts(): { host: string; port: number; expected: string; seen: string; at: Date }[] {
    return [...this.#blocked].map(([hp, b]) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)), ...b };
    });
  }

  /** Runs one command and collects its output. */
  async exec(ep: SshEndpoint, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.withChannel(
      ep,
      command,
      (ch) =>
        new Promise<Omit<ExecResult, 'hostKeyFingerprint'>>((resolve) => {
          const out: Buffer[] = [];
          const err: Buffer[] = [];
          let exitCode: number | undefined;
          let signal: string | undefined;
          ch.on('data', (d: Buffer) => out.push(d));
          ch.stderr.on('data', (d: Buffer) => err.push(d));
          ch.on('exit', (code: number | null, sig?: string) => {
            if (typeof code === 'number') exitCode = code;
            if (sig) signal = sig;
          });
          ch.on('close', () =>
            resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode, ...(signal ? { signal } : {}) }),
          );
          if (opts.stdin !== undefined) ch.end(opts.stdin);
        }),
      opts,
    ).then(({ value, fingerprint }) => ({ ...value, hostKeyFingerprint: fingerprint }));
  }

  /**
   * Opens an exec channel for `command` and hands it to `drive`, which resolves with its result. The slot is
   * held until the channel has closed, so a timed-out command never leaks a channel.
   */
  async withChannel<T>(ep: SshEndpoint, command: string, drive: (ch: SshChannel) => Promise<T>, opts: ExecOptions = {}): Promise<{ value: T; fingerprint: string }> {
    const host = validHost('SSH host', ep.host);
    const port = validPort('SSH port', ep.port ?? 22);
    const display = opts.display ?? command.split(/\s+/)[0] ?? 'command';
    const signal = opts.signal;
    const notSent = (): DeviceAbortedError => new DeviceAbortedError(host, display, false);
    this.#assertOpen();
    throwIfAborted(signal, host, display);
    this.#checkBlocked(host, port, ep);
    this.guard.check(this.#attemptOf(ep, host, port));
    const session = this.#session(host, port, ep.username, ep.credential.secret);
    session.ownerLimit = ep.maxChannels;
    await this.#acquire(session, signal, notSent);
    // The slot is given back only once the last channel has closed.
    let lastClose: Promise<void> | undefined;
    try {
      const deadline = Date.now() + (opts.timeoutMs ?? this.#opts.commandTimeoutMs);
      let refusals = 0;
      for (let attempt = 0; ; ) {
        throwIfAborted(signal, host, display);
        this.#assertFence(host, display);
        const live = await raceAbort(this.#connected(session, ep), signal, notSent);
        throwIfAborted(signal, host, display);
        this.#assertFence(host, display);
        const run = this.#run(session, live, command, display, drive, Math.max(1, deadline - Date.now()), signal);
        lastClose = run.closed;
        try {
          return { value: await run.result, fingerprint: live.fingerprint };
        } catch (e) {
          if (e instanceof ChannelOpenFailed && !live.lost && Date.now() < deadline && refusals < MAX_CHANNEL_REFUSALS) {
            // The server refused one more session on a live connection (sshd MaxSessions): nothing ran. Learn its
            // limit and wait on this connection for one of our channels to close (or briefly, when ours just
            // closed), instead of failing or reconnecting under the commands still running on it.
            refusals++;
            session.serverLimit = Math.max(1, live.channels);
            if (live.channels > 0) await this.#channelClosed(live, deadline - Date.now());
            else await sleep(Math.min(50 * refusals, Math.max(1, deadline - Date.now())));
            continue;
          }
          const retry = e instanceof ChannelOpenFailed || (e instanceof SshConnectionLostError && opts.retryOnDrop === true);
          if (e instanceof ChannelOpenFailed) void this.#end(live);
          if (retry && attempt === 0) {
            attempt++;
            await run.closed;
            continue;
          }
          if (e instanceof ChannelOpenFailed) throw new SshConnectionLostError(host, display);
          throw e;
        }
      }
    } catch (e) {
      this.#count(session, 'commandsFailed');
      throw e;
    } finally {
      if (lastClose) void lastClose.then(() => this.#release(session));
      else this.#release(session);
    }
  }

  /** Closes every connection and fails queued calls. */
  async close(): Promise<void> {
    this.#closed = true;
    const ends: Promise<void>[] = [];
    for (const s of this.#sessions.values()) {
      clearTimeout(s.idleTimer);
      for (const w of s.waiters.splice(0)) w.reject(new SshPoolClosedError());
      if (s.live) ends.push(this.#end(s.live));
      for (const r of s.retired) ends.push(this.#end(r));
      s.retired.clear();
    }
    await Promise.all(ends);
  }

  #assertOpen(): void {
    if (this.#closed) throw new SshPoolClosedError();
  }

  /** Guard slots are per `host:port`: two appliances behind one address (loopback, a NAT) never share a record. */
  #attemptOf(ep: SshEndpoint, host: string, port: number): { host: string; role: GuardRole; secret: SecretVersion } {
    return { host: guardHostOf(host, port), role: ep.role ?? 'appliance-ssh', secret: ep.credential.secret };
  }

  /** Refuses traffic to a host whose key mismatched, until the caller's pin differs from the refused one. */
  #checkBlocked(host: string, port: number, ep: SshEndpoint): void {
    const hp = `${host}:${port}`;
    const b = this.#blocked.get(hp);
    if (!b) return;
    const pin = pinOf(ep);
    if (pin !== undefined && pin !== b.expected) {
      this.#blocked.delete(hp);
      this.#firstSeen.delete(hp);
      return;
    }
    this.#counters.refusedByHostKey++;
    throw new HostKeyMismatchError(host, port, b.expected, b.seen);
  }

  /**
   * One connection per (host, port, user) and credential version: a session logged in with one Secret's value is
   * never lent to a caller holding another (a wrong password must be tried, and rejected, on its own), and a
   * rotated Secret logs in afresh.
   */
  #assertFence(host: string, display: string): void {
    if (this.#opts.fence && !this.#opts.fence()) throw new NotLeaderError(host, display);
  }

  #session(host: string, port: number, username: string, secret: SecretVersion): HostSession {
    // One session per credential value (its digest), not per Secret version: a metadata-only update keeps it.
    const key = `${host}:${port}:${username}#${secret.uid}@${secret.digest ?? secret.resourceVersion}`;
    let s = this.#sessions.get(key);
    if (!s) {
      s = new HostSession(host, port, username);
      this.#sessions.set(key, s);
    }
    return s;
  }

  #count(s: HostSession, k: Exclude<keyof SshPoolCounters, 'openChannels' | 'maxOpenChannels' | 'queued'>): void {
    s.counters[k]++;
    this.#counters[k]++;
  }

  /** Resolves when a channel of `live` closes (or the connection is lost, or `ms` passed). */
  #channelClosed(live: Live, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(1, ms));
      live.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** No new command goes to `live`; it ends once its last channel closed. */
  #retire(s: HostSession, live: Live): void {
    if (live.retired || live.lost) return;
    live.retired = true;
    if (s.live === live) s.live = undefined;
    s.retired.add(live);
    if (live.channels === 0) {
      s.retired.delete(live);
      void this.#end(live);
    }
  }

  /** A slot on the session; a caller whose signal aborts while it waits leaves the queue without one. */
  async #acquire(s: HostSession, signal: AbortSignal | undefined, onAbort: () => Error): Promise<void> {
    clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
    if (s.active < this.#limit(s) && s.waiters.length === 0) {
      s.active++;
      return;
    }
    s.counters.queued++;
    this.#counters.queued++;
    // The releasing call hands its slot over (active stays constant), so arrival order is kept.
    await new Promise<void>((resolve, reject) => {
      const abort = (): void => {
        const i = s.waiters.indexOf(waiter);
        if (i < 0) return;
        s.waiters.splice(i, 1);
        reject(onAbort());
      };
      const waiter = {
        resolve: (): void => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
        reject: (e: Error): void => {
          signal?.removeEventListener('abort', abort);
          reject(e);
        },
      };
      s.waiters.push(waiter);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  /** Channels a session may hold at once: its owner's limit (else the pool's), never more than the server takes. */
  #limit(s: HostSession): number {
    return Math.max(1, Math.min(s.ownerLimit ?? this.#opts.maxChannelsPerHost, s.serverLimit ?? Infinity));
  }

  #release(s: HostSession): void {
    // The slot goes to the next waiter unless the limit has come down below what is held (owner or server lowered it).
    const next = s.active <= this.#limit(s) ? s.waiters.shift() : undefined;
    if (next) {
      next.resolve();
      return;
    }
    s.active--;
    if (s.active === 0 && s.live && !this.#closed) {
      s.idleTimer = setTimeout(() => {
        if (s.active === 0 && s.live) void this.#end(s.live);
      }, this.#opts.idleCloseMs);
      s.idleTimer.unref();
    }
  }

  async #connected(s: HostSession, ep: SshEndpoint): Promise<Live> {
    this.#assertOpen();
    this.#checkBlocked(s.host, s.port, ep);
    const live = s.live;
    if (live && !live.lost && !live.retired) {
      // A pin changed by the caller must be proven on a fresh handshake.
      const pin = pinOf(ep);
      if (pin === undefined || pin === live.fingerprint) return live;
      await this.#end(live);
    }
    s.connecting ??= this.#connectWithRetry(s, ep).finally(() => {
      s.connecting = undefined;
    });
    return s.connecting;
  }

  async #connectWithRetry(s: HostSession, ep: SshEndpoint): Promise<Live> {
    let delay = this.#opts.backoffInitialMs;
    for (let attempt = 1; ; attempt++) {
      this.#checkBlocked(s.host, s.port, ep);
      try {
        return await this.guard.attempt(this.#attemptOf(ep, s.host, s.port), () => this.#connectVerified(s, ep));
      } catch (e) {
        if (!(e instanceof SshConnectionError) || attempt >= this.#opts.connectAttempts || this.#closed) throw e;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.#opts.backoffMaxMs);
    }
  }

  /**
   * A connection whose host key is the expected one (the pin, or the key trusted on first use). The host may hold
   * several keys: the pinned key's family is negotiated when the pin names it (or an earlier connection found it);
   * otherwise the server's preferred key is checked first and then each other family, each probe ending at host-key
   * verification (no credential is sent to a key that does not match). Only when no key of the host matches is the
   * host blocked (invariant 5).
   */
  async #connectVerified(s: HostSession, ep: SshEndpoint): Promise<Live> {
    const hp = s.hostPort;
    const expected = pinOf(ep) ?? this.#firstSeen.get(hp);
    if (expected === undefined) return this.#connectOnce(s, ep, expected, undefined);
    const named = ep.hostKey.pinned !== undefined ? pinnedKeyType(ep.hostKey.pinned) : undefined;
    const known = named ?? this.#keyTypes.get(hp);
    const order: (HostKeyType | undefined)[] = named ? [named] : known ? [known, ...HOST_KEY_TYPES.filter((t) => t !== known)] : [undefined, ...HOST_KEY_TYPES];
    const seen: string[] = [];
    const tried = new Set<HostKeyType>();
    for (const family of order) {
      if (family !== undefined && tried.has(family)) continue;
      if (family !== undefined) tried.add(family);
      try {
        const live = await this.#connectOnce(s, ep, expected, family);
        if (live.keyType) this.#keyTypes.set(hp, live.keyType);
        return live;
      } catch (e) {
        if (e instanceof KeyNotExpected) {
          seen.push(e.seen);
          if (e.keyType) tried.add(e.keyType);
          continue;
        }
        if (e instanceof NoKeyOfFamily) continue;
        throw e;
      }
    }
    const mismatch = { expected, seen: seen.length ? seen.join(', ') : `no ${named ?? 'matching'} host key offered` };
    this.#blockHost(s, mismatch);
    throw new HostKeyMismatchError(s.host, s.port, mismatch.expected, mismatch.seen);
  }

  #connectOnce(s: HostSession, ep: SshEndpoint, expected: string | undefined, family: HostKeyType | undefined): Promise<Live> {
    const hp = s.hostPort;
    const client = new Client();
    let seen: string | undefined;
    let seenType: HostKeyType | undefined;
    let mismatch: KeyNotExpected | undefined;
    this.#count(s, 'connectionAttempts');
    const cred = ep.credential;
    const login: PasswordLogin = { sent: false, offered: undefined };
    const usesKey = cred.privateKey !== undefined;
    const cfg: ConnectConfig = {
      host: s.host,
      port: s.port,
      username: s.username,
      readyTimeout: this.#opts.connectTimeoutMs,
      keepaliveInterval: this.#opts.keepaliveIntervalMs,
      keepaliveCountMax: this.#opts.keepaliveCountMax,
      ...(family ? { algorithms: { serverHostKey: [...HOST_KEY_ALGORITHMS[family]] } as ConnectConfig['algorithms'] } : {}),
      // One login attempt per connection: the key, or the password once (ssh-auth.ts).
      ...(usesKey
        ? { authHandler: ['publickey'], privateKey: cred.privateKey, ...(cred.passphrase !== undefined ? { passphrase: cred.passphrase } : {}) }
        : { authHandler: passwordAuthHandler(s.username, cred.password ?? '', login, () => client.end()) }),
      hostVerifier: (key: Buffer): boolean => {
        const fp = sshHostKeyFingerprint(key);
        seen = fp;
        seenType = hostKeyTypeOfBlob(key);
        if (expected === undefined) {
          this.#firstSeen.set(hp, fp);
          this.#opts.onHostKey?.({ host: s.host, port: s.port, fingerprint: fp, outcome: 'trusted-on-first-use' });
          return true;
        }
        if (fp === expected) {
          this.#opts.onHostKey?.({ host: s.host, port: s.port, fingerprint: fp, outcome: 'verified' });
          return true;
        }
        mismatch = new KeyNotExpected(fp, seenType);
        return false;
      },
    };
    const fence = this.#opts.fence;
    if (fence) {
      // The fence at the last moment: ssh2 writes some requests from its own callbacks (an exec goes out when the
      // channel-open confirmation arrives), so the socket itself refuses to send once the fence says no, and the
      // connection dies with it.
      const sock = netConnect({ host: s.host, port: s.port });
      const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
      (sock as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]): boolean => {
        if (!fence()) {
          sock.destroy(new NotLeaderError(s.host, 'SSH traffic'));
          return false;
        }
        return write(...args);
      };
      cfg.sock = sock;
    }
    return new Promise<Live>((resolve, reject) => {
      let ready = false;
      let failed = false;
      let live: Live | undefined;
      /** A handshake fails once, whichever of `error` and `close` reports it first. */
      const fail = (err: Error & { level?: string }): void => {
        if (failed) return;
        failed = true;
        client.destroy();
        const refused = usesKey ? err.level === 'client-authentication' : login.sent && (err.level === 'client-authentication' || login.refusedByPrompt === true);
        if (mismatch) reject(mismatch);
        else if (family !== undefined && seen === undefined && /no matching host key/i.test(err.message)) reject(new NoKeyOfFamily(err.message));
        else if (refused) {
          // The server checked the credential and refused it: the one rejection the guard records.
          reject(new AuthenticationRejectedError(guardHostOf(s.host, s.port), ep.role ?? 'appliance-ssh', cred.secret.name, `SSH login as ${s.username} was rejected`));
        } else if (!usesKey && !login.sent && (login.unsupported !== undefined || err.level === 'client-authentication')) {
          // Nothing was checked: a configuration problem of the server, not a wrong password.
          reject(new SshAuthUnsupportedError(s.host, login.unsupported ?? `the server offers ${login.offered?.join(', ') || 'no method'}`));
        } else {
          reject(new SshConnectionError(s.host, s.port, err.message));
        }
      };
      client.on('error', (err: Error & { level?: string }) => {
        if (!ready) return fail(err);
        if (live) live.lost = true;
      });
      client.on('close', () => {
        if (!ready) return fail(new Error('connection closed during handshake'));
        if (live) {
          live.lost = true;
          for (const wake of live.closeWaiters.splice(0)) wake();
        }
        if (s.live === live) s.live = undefined;
        this.#count(s, 'connectionsClosed');
      });
      client.once('ready', () => {
        ready = true;
        // Small request/response exchanges: Nagle plus delayed ACKs would add tens of ms per command.
        client.setNoDelay(true);
        this.#count(s, 'connectionsOpened');
        live = { client, fingerprint: seen ?? '', lost: false, channels: 0, retired: false, closeWaiters: [], ...(seenType ? { keyType: seenType } : {}) };
        s.live = live;
        resolve(live);
      });
      try {
        client.connect(cfg);
      } catch (e) {
        reject(e instanceof LunaError ? e : new SshConnectionError(s.host, s.port, e instanceof Error ? e.message : 'invalid connection settings'));
      }
    });
  }

  #blockHost(s: HostSession, m: { expected: string; seen: string }): void {
    if (!this.#blocked.has(s.hostPort)) {
      this.#blocked.set(s.hostPort, { ...m, at: new Date() });
      this.#opts.onHostKey?.({ host: s.host, port: s.port, fingerprint: m.seen, expected: m.expected, outcome: 'mismatch' });
    }
    // Every connection to that host, whatever the user, stops now.
    for (const other of this.#sessions.values()) {
      if (other.hostPort === s.hostPort && other.live) void this.#end(other.live);
    }
  }

  #end(live: Live): Promise<void> {
    return new Promise((resolve) => {
      if (live.lost) return resolve();
      live.lost = true;
      const t = setTimeout(() => {
        live.client.destroy();
        resolve();
      }, 1_000);
      live.client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      live.client.end();
    });
  }

  #run<T>(
    s: HostSession,
    live: Live,
    command: string,
    display: string,
    drive: (ch: SshChannel) => Promise<T>,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): { result: Promise<T>; closed: Promise<void> } {
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    const result = new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (e: Error | undefined, v?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve(v as T);
      };
      /** A timeout and an abort end the command alike: its channel is closed without waiting for its end. */
      const abandon = (e: Error, counter: 'commandsTimedOut' | 'commandsAborted'): void => {
        if (settled) return;
        this.#count(s, counter);
        settle(e);
        channel?.close();
        // A real sshd confirms the close only once the remote command exits. Past the grace the connection is
        // retired (the other commands on it finish there, new ones go to a new connection) and the slot is given
        // back: the timeout costs its own channel, never the commands beside it.
        const grace = setTimeout(() => {
          this.#retire(s, live);
          closedResolve();
        }, this.#opts.closeGraceMs);
        void closed.then(() => clearTimeout(grace));
      };
      const timer = setTimeout(() => abandon(new SshCommandTimeoutError(s.host, display, timeoutMs), 'commandsTimedOut'), timeoutMs);
      const onAbort = (): void => abandon(new DeviceAbortedError(s.host, display, true), 'commandsAborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      let channel: ClientChannel | undefined;
      try {
        // The channel counts from the open request on: a refusal (sshd MaxSessions) may come back before the
        // confirmations of the channels opened just before it.
        live.channels++;
        live.client.exec(command, (err, ch) => {
          if (err) {
            live.channels--;
            closedResolve();
            settle(new ChannelOpenFailed(err.message));
            return;
          }
          channel = ch;
          if (settled) {
            // Timed out before the channel opened: close it at once.
            ch.close();
          }
          this.#count(s, 'commandsRun');
          s.counters.openChannels++;
          this.#counters.openChannels++;
          s.counters.maxOpenChannels = Math.max(s.counters.maxOpenChannels, s.counters.openChannels);
          this.#counters.maxOpenChannels = Math.max(this.#counters.maxOpenChannels, this.#counters.openChannels);
          let exited = false;
          let isClosed = false;
          let dropped = false;
          let outcome: { ok: true; v: T } | { ok: false; e: Error } | undefined;
          const decide = (): void => {
            if (!isClosed) return;
            if (live.lost && !exited) {
              // decide() runs on the close and again on the driver's outcome: one drop is counted once.
              if (!dropped) this.#count(s, 'commandsDropped');
              dropped = true;
              settle(new SshConnectionLostError(s.host, display));
            } else if (outcome) {
              if (outcome.ok) settle(undefined, outcome.v);
              else settle(outcome.e);
            }
          };
          ch.on('exit', () => {
            exited = true;
          });
          ch.on('error', () => undefined);
          ch.on('close', () => {
            isClosed = true;
            live.channels--;
            s.counters.openChannels--;
            this.#counters.openChannels--;
            for (const wake of live.closeWaiters.splice(0)) wake();
            if (live.retired && live.channels === 0) {
              s.retired.delete(live);
              void this.#end(live);
            }
            closedResolve();
            decide();
          });
          drive(ch).then(
            (v) => {
              outcome = { ok: true, v };
              decide();
            },
            (e: unknown) => {
              outcome = { ok: false, e: e instanceof Error ? e : new Error(String(e)) };
              if (!isClosed) ch.close();
              decide();
            },
          );
        });
      } catch (e) {
        live.channels--;
        closedResolve();
        settle(new ChannelOpenFailed(e instanceof Error ? e.message : 'exec failed'));
      }
    });
    return { result, closed };
  }
}
