/**
 * A real OpenSSH sshd on loopback for the conformance tier: its own host keys (ED25519, ECDSA, RSA), its own config
 * (password or keyboard-interactive through PAM, MaxSessions, UnusedConnectionTimeout, a pre-auth Banner), and its
 * own log, read back to count what the server saw. Behind it a ForceCommand (relay.mjs) hands scp to the real scp and
 * every other command to the lunash simulator's command handler in this process, so the simulated appliance sits
 * behind a real SSH server and our SSH client meets a real peer.
 *
 * sshd logs users in only when it runs as root, and it logs in a real account: the tier creates one (`hsmconf`) and
 * sets a fresh random password per run. CI runs as root; the README says so.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../../src/sandbox/controlplane/controlplane.js';
import { createApplianceState, homeOf, type ApplianceState } from '../../../src/sandbox/luna/appliance-state.js';
import { newCommandCounters, type CommandCounters, type LoginCounters } from '../../../src/sandbox/luna/counters.js';
import { createLunashInterpreter } from '../../../src/sandbox/luna/lunash-shell.js';
import type { ExecIo } from '../../../src/sandbox/luna/ssh-server.js';

export const SSHD = '/usr/sbin/sshd';
export const USER = 'hsmconf';
const RELAY = resolve(dirname(fileURLToPath(import.meta.url)), 'relay.mjs');

export type KeyType = 'ed25519' | 'ecdsa' | 'rsa';

export interface HostKey {
  type: KeyType;
  /** `SHA256:...` alone. */
  fingerprint: string;
  /** The line `ssh-keygen -lf <(ssh-keyscan -p <port> 127.0.0.1)` prints for this key. */
  keygenLine: string;
}

export interface SshdOptions {
  /** What sshd accepts: passwords, keyboard-interactive through PAM (no passwords), or keys only. */
  auth?: 'password' | 'keyboard-interactive' | 'publickey-only';
  /** sshd MaxSessions (default 10, as OpenSSH). */
  maxSessions?: number;
  /** sshd UnusedConnectionTimeout in seconds: a connection without channels is closed by the server. */
  unusedConnectionTimeoutS?: number;
  banner?: string;
  /** Host keys to generate (default all three). */
  keyTypes?: KeyType[];
  /** Serve commands with this instead of the lunash simulator (e.g. the LunaCM simulator's `interpreter`). */
  interpreter?: (io: ExecIo) => Promise<number>;
}

/** Whether this machine can run the tier: sshd installed and root (to log a user in). */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is not installed (apt-get install openssh-server; .ci/run does)`;
  if (process.getuid?.() !== 0) return 'sshd logs users in only as root: run the conformance tier as root (CI does)';
  return undefined;
}

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The tier's login account with a fresh password (created on first use). */
function ensureUser(): { password: string; home: string } {
  if (spawnSync('id', [USER]).status !== 0) run('useradd', ['--create-home', '--shell', '/bin/sh', USER]);
  const password = `conf-${randomBytes(12).toString('base64url')}`;
  run('chpasswd', [], `${USER}:${password}\n`);
  const home = run('sh', ['-c', `getent passwd ${USER} | cut -d: -f6`]).trim();
  mkdirSync(home, { recursive: true });
  run('chown', [`${USER}:`, home]);
  return { password, home };
}

export interface CommandsSeen {
  /** Every command the relay handed to the simulator, in order. */
  log: string[];
}

export class RealSshd {
  readonly host = '127.0.0.1';
  port = 0;
  readonly user = USER;
  password = '';
  hostKeys: HostKey[] = [];
  state!: ApplianceState;
  readonly commands: CommandCounters = newCommandCounters();
  readonly hsmLogins: LoginCounters = { success: 0, failure: 0 };
  readonly seen: CommandsSeen = { log: [] };
  /** Commands the relay holds for this long before answering (ms), by prefix: to time commands out. */
  readonly holds = new Map<string, number>();
  #dir = '';
  #home = '';
  #proc: ChildProcess | undefined;
  #relay: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #options: SshdOptions = {};

  static async start(o: SshdOptions = {}): Promise<RealSshd> {
    const d = new RealSshd();
    await d.#start(o);
    return d;
  }

  async #start(o: SshdOptions): Promise<void> {
    this.#options = o;
    const why = sshdUnavailable();
    if (why) throw new Error(why);
    ({ password: this.password, home: this.#home } = ensureUser());
    for (const f of readdirSync(this.#home)) if (f.endsWith('.pem')) rmSync(join(this.#home, f));
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    this.#dir = mkdtempSync(join(tmpdir(), 'hsm-sshd-'));
    for (const t of o.keyTypes ?? ['ed25519', 'ecdsa', 'rsa']) {
      run('ssh-keygen', ['-q', '-t', t, '-N', '', '-C', '', '-f', join(this.#dir, `ssh_host_${t}_key`)]);
    }
    this.state = await createApplianceState({ hostname: 'hsm-conf', username: USER, password: this.password });
    for (const [name, data] of homeOf(this.state, USER)) writeFileSync(join(this.#home, name), data);
    run('chown', ['-R', `${USER}:`, this.#home]);
    await this.#startRelay();
    this.port = await freePort();
    await this.#startSshd();
    this.hostKeys = this.#scanKeys();
  }

  /** The config this instance runs with: every setting the tests rely on is spelt out. */
  #config(relayPort: number): string {
    const o = this.#options;
    const auth = o.auth ?? 'password';
    const lines = [
      `Port ${this.port}`,
      'ListenAddress 127.0.0.1',
      ...readdirSync(this.#dir)
        .filter((f) => f.startsWith('ssh_host_') && f.endsWith('_key'))
        .map((f) => `HostKey ${join(this.#dir, f)}`),
      `PidFile ${join(this.#dir, 'sshd.pid')}`,
      'LogLevel VERBOSE',
      `AllowUsers ${USER}`,
      'PermitRootLogin no',
      'AuthorizedKeysFile none',
      'PubkeyAuthentication yes',
      `PasswordAuthentication ${auth === 'password' ? 'yes' : 'no'}`,
      `KbdInteractiveAuthentication ${auth === 'keyboard-interactive' ? 'yes' : 'no'}`,
      `UsePAM ${auth === 'keyboard-interactive' ? 'yes' : 'no'}`,
      'StrictModes no',
      'UseDNS no',
      'PrintMotd no',
      'MaxStartups 100',
      `MaxSessions ${o.maxSessions ?? 10}`,
      ...(o.unusedConnectionTimeoutS !== undefined ? [`UnusedConnectionTimeout ${o.unusedConnectionTimeoutS}`] : []),
      ...(o.banner !== undefined ? [`Banner ${join(this.#dir, 'banner')}`] : []),
      `ForceCommand ${process.execPath} ${RELAY} ${relayPort}`,
    ];
    return lines.join('\n') + '\n';
  }

  async #startSshd(): Promise<void> {
    const relayPort = (this.#relay?.address() as { port: number }).port;
    if (this.#options.banner !== undefined) writeFileSync(join(this.#dir, 'banner'), this.#options.banner);
    const cfg = join(this.#dir, 'sshd_config');
    writeFileSync(cfg, this.#config(relayPort));
    chmodSync(this.#dir, 0o700);
    const test = spawnSync(SSHD, ['-t', '-f', cfg], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`sshd -t refused the config: ${test.stderr}`);
    this.#proc = spawn(SSHD, ['-D', '-f', cfg, '-E', this.logPath], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const up = await new Promise<boolean>((r) => {
        const s = createConnection({ host: this.host, port: this.port }, () => {
          s.destroy();
          r(true);
        });
        s.on('error', () => r(false));
      });
      if (up) return;
      if (Date.now() > deadline || this.#proc.exitCode !== null) throw new Error(`sshd did not start: ${this.log()}`);
      await sleep(50);
    }
  }

  /** What the user would paste: `ssh-keygen -lf <(ssh-keyscan -p <port> 127.0.0.1)`, one line per key. */
  #scanKeys(): HostKey[] {
    const scan = run('ssh-keyscan', ['-p', String(this.port), '-t', 'ed25519,ecdsa,rsa', this.host]);
    const lines = run('ssh-keygen', ['-lf', '-'], scan).trim().split('\n');
    return lines.map((line) => {
      const m = /^\d+ (SHA256:\S+) .* \((ED25519|ECDSA|RSA)\)$/.exec(line.trim());
      if (!m) throw new Error(`ssh-keygen printed an unexpected line: ${line}`);
      return { type: m[2]!.toLowerCase() as KeyType, fingerprint: m[1]!, keygenLine: line.trim() };
    });
  }

  key(type: KeyType): HostKey {
    const k = this.hostKeys.find((h) => h.type === type);
    if (!k) throw new Error(`no ${type} host key`);
    return k;
  }

  get logPath(): string {
    return join(this.#dir, 'sshd.log');
  }

  log(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  /** Failed password checks as sshd logged them ("Failed password" / "Failed keyboard-interactive/pam"). */
  failedPasswordChecks(): number {
    return this.log()
      .split('\n')
      .filter((l) => /Failed (password|keyboard-interactive)/.test(l)).length;
  }

  acceptedLogins(): number {
    return this.log()
      .split('\n')
      .filter((l) => /Accepted (password|keyboard-interactive)/.test(l)).length;
  }

  /** Files in the account's home, where the real scp reads and writes. */
  homeFile(name: string): Buffer | undefined {
    const p = join(this.#home, name);
    return existsSync(p) ? readFileSync(p) : undefined;
  }

  /** New host keys and a restart: the same address now presents other keys. */
  async replaceHostKeys(): Promise<void> {
    await this.#stopSshd();
    for (const f of readdirSync(this.#dir)) if (f.startsWith('ssh_host_')) rmSync(join(this.#dir, f));
    for (const t of this.#options.keyTypes ?? ['ed25519', 'ecdsa', 'rsa']) run('ssh-keygen', ['-q', '-t', t, '-N', '', '-C', '', '-f', join(this.#dir, `ssh_host_${t}_key`)]);
    await this.#startSshd();
    this.hostKeys = this.#scanKeys();
  }

  async #stopSshd(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  /** The relay's end: one connection per exec, the simulator's interpreter behind it. */
  async #startRelay(): Promise<void> {
    const interpreter = this.#options.interpreter ?? createLunashInterpreter({
      state: this.state,
      commands: this.commands,
      hsmLogins: this.hsmLogins,
      clientsChanged: () => undefined,
      serverCertChanged: () => undefined,
    });
    this.#relay = createServer((sock) => {
      this.#sockets.add(sock);
      sock.on('close', () => this.#sockets.delete(sock));
      sock.on('error', () => undefined);
      void this.#serve(sock, interpreter);
    });
    this.#relay.listen(0, '127.0.0.1');
    await new Promise((r) => this.#relay?.once('listening', r));
  }

  async #serve(sock: Socket, interpreter: (io: ExecIo) => Promise<number>): Promise<void> {
    let buf = Buffer.alloc(0);
    let eof = false;
    let closed = false;
    let wake: (() => void) | undefined;
    const poke = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      poke();
    });
    sock.on('end', () => {
      eof = true;
      poke();
    });
    sock.on('close', () => {
      closed = true;
      eof = true;
      poke();
    });
    const until = async (ready: () => boolean): Promise<boolean> => {
      while (!ready()) {
        if (eof) return false;
        await new Promise<void>((r) => (wake = r));
      }
      return true;
    };
    const frame = (kind: number, data: Buffer): void => {
      if (closed) return;
      const head = Buffer.alloc(5);
      head[0] = kind;
      head.writeUInt32BE(data.length, 1);
      sock.write(Buffer.concat([head, data]));
    };
    if (!(await until(() => buf.includes(0x0a)))) return;
    const nl = buf.indexOf(0x0a);
    const header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as { user: string; command: string };
    buf = buf.subarray(nl + 1);
    this.seen.log.push(header.command);
    const io: ExecIo = {
      username: header.user,
      command: header.command,
      get closed() {
        return closed;
      },
      write: (text) => frame(1, Buffer.from(text)),
      writeStderr: (text) => frame(2, Buffer.from(text)),
      readLine: async () => {
        if (!(await until(() => buf.includes(0x0a)))) {
          if (buf.length === 0) return null;
          const rest = buf.toString('utf8');
          buf = Buffer.alloc(0);
          return rest;
        }
        const i = buf.indexOf(0x0a);
        const line = buf.subarray(0, i).toString('utf8').replace(/\r$/, '');
        buf = buf.subarray(i + 1);
        return line;
      },
      readBytes: async (n) => {
        if (!(await until(() => buf.length >= n))) return null;
        const out = Buffer.from(buf.subarray(0, n));
        buf = buf.subarray(n);
        return out;
      },
    };
    for (const [prefix, ms] of this.holds) if (header.command.startsWith(prefix)) await sleep(ms);
    // Files the real scp wrote into the account's home are what lunash sees in the appliance's home.
    const home = homeOf(this.state, header.user);
    for (const f of readdirSync(this.#home)) if (f.endsWith('.pem')) home.set(f, readFileSync(join(this.#home, f)));
    const code = await interpreter(io).catch(() => 1);
    for (const [name, data] of home) writeFileSync(join(this.#home, name), data);
    run('chown', ['-R', `${USER}:`, this.#home]);
    const c = Buffer.alloc(4);
    c.writeInt32BE(code, 0);
    frame(3, c);
    sock.end();
  }

  async stop(): Promise<void> {
    await this.#stopSshd();
    for (const s of this.#sockets) s.destroy();
    await new Promise((r) => (this.#relay ? this.#relay.close(r) : r(undefined)));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
