/**
 * An in-memory DevicePlane: Luna appliances and LunaCM client hosts as plain state, no sockets, so reconciler tests
 * run in milliseconds. Behaviour follows the wire simulators (src/sandbox/luna/appliance-state.ts, lunash-shell.ts,
 * lunacm-host.ts, ssh-server.ts) and the SSH pool:
 * - every lunash/LunaCM operation builds the real command (src/luna/lunash.ts, lunacm.ts: arguments are refused the same
 *   way), is counted by its canonical name like the simulators count it, and answers with the text the simulator
 *   prints (its exported renderers) read by the real parser, so results and errors (LunaCommandError kinds, codes,
 *   details) are the ones the real plane returns;
 * - SSH as the pool does it: host-key pinning (a mismatch blocks the host until the pin changes; trust on first use
 *   records the key), one login per (host, port, user, credential value) through the credential guard (a rejected
 *   value is never sent again), the leader fence, a down host refusing connections;
 * - AbortSignals as the real plane honours them: an aborted signal sends nothing; one that fires while a command waits
 *   out the host's latency abandons it unapplied (the simulator does not run a command whose channel closed first);
 *   a zeroize stops before its next `hsm login`;
 * - scripted failures per host and command, with the real luna error classes.
 * Proven against SshDevicePlane + the simulators by test/unit/fakes/device-plane.contract.test.ts.
 */
import { randomBytes } from 'node:crypto';
import {
  AuthenticationRejectedError,
  CredentialGuard,
  DeviceAbortedError,
  HostKeyMismatchError,
  LunaCommandError,
  NotLeaderError,
  ScpError,
  SshConnectionError,
  lunacm,
  lunash,
  normalizeHostKeyPin,
  validFileName,
  validHost,
  notFoundAsUndefined,
  validPort,
  zeroizeLoop,
  type ApplianceOps,
  type ClientIdentity,
  type ClientInfo,
  type CommandOutcome,
  type DeviceCallOptions,
  type DeviceFacadeOptions,
  type DevicePlane,
  type GuardedPassword,
  type GuardRole,
  type HaGroupList,
  type HsmShow,
  type LunaCmOps,
  type LunaCmOutcome,
  type LunaCommand,
  type NtlsProbeOptions,
  type NtlsProbeResult,
  type NtlsShow,
  type PackageList,
  type PartitionInfo,
  type ServerCertificate,
  type SshEndpoint,
  type TcpProbe,
  type ZeroizeConfirmation,
  type ZeroizeReport,
} from '../../../src/luna/index.js';
import { digestHex, issueCertificate, parseCertificate, type IssuedCertificate } from '../../../src/pki/index.js';
import {
  renderClientFingerprint,
  renderClientList,
  renderClientShow,
  renderFailed,
  renderHsmShow,
  renderOk,
  renderPartitionList,
  renderShellError,
} from '../../../src/sandbox/luna/lunash-shell.js';
import {
  ALREADY_MEMBER,
  LABEL_USED,
  LUNACM_MESSAGES,
  renderGroupBlock,
  renderListGroups,
  checkCoLogin,
  renderLunaCmError,
  renderLunaCmNotice,
  renderLunaCmOk,
  type ListGroupView,
} from '../../../src/sandbox/luna/lunacm-host.js';

// ---------------------------------------------------------------------------------------------------------------
// State

export interface FakePartition {
  label: string;
  serial: string;
  cloningDomain: string;
  /** Crypto Officer password: what LunaCM checks as the group password. */
  coPassword: string;
  coFailedLogins: number;
  objects: number;
}

export interface FakeClient {
  name: string;
  hostname?: string;
  ip?: string;
  certPem: string;
  certDer: Buffer;
  partitions: string[];
}

export interface FakeCounters {
  /** Commands that reached the device, by canonical name (`client register`, `scp upload`, `hagroup recover`, ...). */
  commands: { byName: Record<string, number>; stateChanging: number; readOnly: number };
  /** SSH logins (one per new session), by outcome. */
  sshLogins: { success: number; failure: number };
  /** SSH sessions opened (the pool's connections). */
  connections: number;
  /** `hsm login` (HSM SO) attempts: only the zeroize path makes them. */
  hsmLogins: { success: number; failure: number };
  ntlsHandshakes: { success: number; failure: number };
  tcpProbes: number;
}

const zeroCounters = (): FakeCounters => ({
  commands: { byName: {}, stateChanging: 0, readOnly: 0 },
  sshLogins: { success: 0, failure: 0 },
  connections: 0,
  hsmLogins: { success: 0, failure: 0 },
  ntlsHandshakes: { success: 0, failure: 0 },
  tcpProbes: 0,
});

/** What an SSH host (appliance or LunaCM client host) shares. */
abstract class FakeSshHost {
  readonly counters: FakeCounters = zeroCounters();
  /** `SHA256:...` of the host key (change it with `changeHostKey`). */
  hostKey = randomHostKey();
  /** Down: SSH (and NTLS) refuse connections. */
  isDown = false;
  /** Delay before every command runs (an abort in that window leaves the command unapplied). */
  latencyMs = 0;
  /** Logged-in sessions (pool connections), by credential. */
  readonly sessions = new Set<string>();

  constructor(
    readonly host: string,
    readonly port: number,
    readonly username: string,
    public password: string,
  ) {}

  /** A new host key, as after a reinstall or a man in the middle; sessions drop. Returns its fingerprint. */
  changeHostKey(): string {
    this.hostKey = randomHostKey();
    this.sessions.clear();
    return this.hostKey;
  }

  down(): void {
    this.isDown = true;
    this.sessions.clear();
  }

  up(): void {
    this.isDown = false;
  }

  /** Every session drops (the next command logs in again). */
  dropConnections(): void {
    this.sessions.clear();
  }

  count(name: string, changesState: boolean): void {
    const c = this.counters.commands;
    c.byName[name] = (c.byName[name] ?? 0) + 1;
    if (changesState) c.stateChanging++;
    else c.readOnly++;
  }
}

export interface FakeApplianceOptions {
  host: string;
  port?: number;
  ntlsPort?: number;
  hostname?: string;
  serial?: string;
  username?: string;
  password?: string;
  zeroized?: boolean;
  soAttemptsLeft?: number;
  partitions?: { label: string; serial?: string; cloningDomain?: string; coPassword?: string }[];
  rebootPatchInstalled?: boolean;
  /** Digest `client fingerprint` prints (default md5, as older firmware and the simulator). */
  fingerprintDigest?: 'md5' | 'sha1' | 'sha256';
  latencyMs?: number;
}

const REBOOT_PATCH = { name: 'lunasa-reboot-patch-3', version: '1.0.0', release: '1' };
let nextPartitionSerial = 1_582_775_433_934;

export class FakeAppliance extends FakeSshHost {
  readonly ntlsPort: number;
  readonly hostname: string;
  serial: string;
  label: string;
  zeroized: boolean;
  /** HSM SO (Admin) login attempts left: 3, down to 0 = zeroized. */
  soAttemptsLeft: number;
  partitions: FakePartition[];
  readonly clients = new Map<string, FakeClient>();
  serverCert: IssuedCertificate;
  packages: { name: string; version: string; release: string }[];
  softwareVersion = '7.2.0-220';
  firmware = '7.0.3';
  model = 'Luna K7';
  /** The user's home directory (scp): `server.pem` follows the NTLS certificate. */
  readonly files = new Map<string, Buffer>();
  fingerprintDigest: 'md5' | 'sha1' | 'sha256';

  constructor(o: FakeApplianceOptions, serverCert: IssuedCertificate) {
    super(o.host, o.port ?? 22, o.username ?? 'tenantadmin', o.password ?? 'PASSWORD');
    this.ntlsPort = o.ntlsPort ?? 1792;
    this.hostname = o.hostname ?? 'hsm1';
    this.serial = o.serial ?? String(572_000 + Math.floor(Math.random() * 999));
    this.zeroized = o.zeroized ?? false;
    this.label = this.zeroized ? '' : this.hostname;
    this.soAttemptsLeft = this.zeroized ? 0 : (o.soAttemptsLeft ?? 3);
    this.partitions = this.zeroized
      ? []
      : (o.partitions ?? [{ label: 'par0' }]).map((p) => ({
          label: p.label,
          serial: p.serial ?? String(nextPartitionSerial++),
          cloningDomain: p.cloningDomain ?? 'domain-a',
          coPassword: p.coPassword ?? 'partition-password',
          coFailedLogins: 0,
          objects: 0,
        }));
    this.serverCert = serverCert;
    this.packages = [
      { name: 'lunasa', version: '7.2.0', release: '220' },
      { name: 'lunasa-firmware', version: '7.0.3', release: '1' },
      { name: 'lunasa-ntls', version: '7.2.0', release: '220' },
      ...(o.rebootPatchInstalled ? [REBOOT_PATCH] : []),
    ];
    this.fingerprintDigest = o.fingerprintDigest ?? 'md5';
    this.latencyMs = o.latencyMs ?? 0;
    this.files.set('server.pem', Buffer.from(serverCert.certPem));
  }

  get serverCertPem(): string {
    return this.serverCert.certPem;
  }

  // --- scripting, as the simulator's controls ---

  /** `sysconf regenCert` behind the operator's back. */
  async regenCert(): Promise<void> {
    this.serverCert = await serverCertificateFor(this.hostname);
    this.files.set('server.pem', Buffer.from(this.serverCert.certPem));
  }

  registerClient(name: string, identity: { hostname: string } | { ip: string }, certPem: string, partitions: string[] = []): void {
    this.clients.set(name, { name, ...identity, certPem, certDer: parseCertificate(certPem).der, partitions: [...partitions] });
  }

  setRebootPatch(installed: boolean): void {
    this.packages = this.packages.filter((p) => p.name !== REBOOT_PATCH.name);
    if (installed) this.packages.push(REBOOT_PATCH);
  }

  /** Zeroization: every partition and object is gone, clients lose their assignments. */
  zeroize(): void {
    this.zeroized = true;
    this.soAttemptsLeft = 0;
    this.label = '';
    this.partitions = [];
    for (const c of this.clients.values()) c.partitions = [];
  }
}

export interface FakeLunaCmOptions {
  host: string;
  port?: number;
  username?: string;
  password?: string;
  latencyMs?: number;
}

export interface FakeHaMember {
  serial: string;
  status: 'alive' | 'down';
  autoAttempts: number;
  recoveries: number;
}

export interface FakeHaGroup {
  label: string;
  number: string;
  slotId: number;
  synchronize: boolean;
  members: FakeHaMember[];
}

export class FakeLunaCm extends FakeSshHost {
  readonly groups = new Map<string, FakeHaGroup>();
  /** `hagroup retry -count`: 0 (default) disables auto recovery, -1 unlimited. */
  retryCount = 0;
  intervalSeconds = 60;
  nextSlotId = 5;
  autoRecoveries = 0;
  manualRecoveries = 0;
  /** Partition (CO) password checks by `creategroup` / `addmember`. */
  readonly passwordAttempts = { success: 0, failure: 0 };

  constructor(
    o: FakeLunaCmOptions,
    private readonly partitionOf: (serial: string) => { appliance: FakeAppliance; partition: FakePartition } | undefined,
  ) {
    super(o.host, o.port ?? 22, o.username ?? 'azureuser', o.password ?? 'lunacm-password');
    this.latencyMs = o.latencyMs ?? 0;
  }

  reachable(serial: string): boolean {
    const found = this.partitionOf(serial);
    return found !== undefined && !found.appliance.isDown;
  }

  /** LunaCM notices unreachable members as soon as it uses them. */
  observe(): void {
    for (const g of this.groups.values()) for (const m of g.members) if (m.status === 'alive' && !this.reachable(m.serial)) m.status = 'down';
  }

  /** One auto-recovery poll (the simulator runs it every interval when `hagroup retry -count` != 0). */
  runAutoRecovery(): void {
    this.observe();
    if (this.retryCount === 0) return;
    for (const g of this.groups.values()) {
      for (const m of g.members) {
        if (m.status !== 'down' || (this.retryCount !== -1 && m.autoAttempts >= this.retryCount)) continue;
        m.autoAttempts++;
        if (this.reachable(m.serial)) {
          m.status = 'alive';
          m.autoAttempts = 0;
          m.recoveries++;
          this.autoRecoveries++;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Scripted failures

export interface FailureMatch {
  host?: string;
  port?: number;
  /**
   * Canonical command name (`hsm show`, `client register`, `scp upload`, `hagroup recover`, `hsm login`), `ssh login`
   * (the login of a new session: an AuthenticationRejectedError thrown there is recorded by the guard), or omitted for
   * any command.
   */
  command?: string;
}

interface ScriptedFailure {
  match: FailureMatch;
  error: () => Error;
  remaining: number;
}

/**
 * The error a lunash command gets for a failure kind, as the simulator prints it and the real parser reads it (e.g.
 * `lunaFailure('client show', 'not-found')` is the LunaCommandError of kind `not-found`, code C000040A).
 */
export function lunaFailure(command: string, kind: 'not-found' | 'already-exists' | 'credential-rejected' | 'locked' | 'other'): LunaCommandError {
  const text = {
    'not-found': renderFailed(command, 'C000040A', 'RC_OBJECT_NOT_IN_LIST', 'Specified object does not exist.'),
    'already-exists': renderFailed(command, 'C0000404', 'RC_OBJECT_ALREADY_EXISTS', 'A client with the specified name already exists.'),
    'credential-rejected': renderFailed(command, 'A00000', 'LUNA_RET_UM_PIN_INCORRECT', 'Login failed.'),
    locked: renderFailed(command, 'A00001', 'LUNA_RET_UM_PIN_LOCKED', 'The account is locked.'),
    other: renderFailed(command, 'C0000001', 'RC_GENERAL_ERROR', 'The command failed.'),
  }[kind];
  return parseFailure(lunash.hsmShow(), text, command);
}

function parseFailure(cmd: LunaCommand<unknown>, text: string, command: string): LunaCommandError {
  try {
    cmd.parse(text);
  } catch (e) {
    if (e instanceof LunaCommandError) return e;
  }
  throw new Error(`no failure read from the ${command} text`);
}

// ---------------------------------------------------------------------------------------------------------------
// The plane

export interface FakeDevicePlaneOptions {
  /** The credential guard (share the operator context's, as operator.ts shares the pool's). */
  guard?: CredentialGuard;
  /** The leader fence: false refuses every call with NotLeaderError, nothing sent. */
  fence?: () => boolean;
}

type Host = FakeAppliance | FakeLunaCm;

export class FakeDevicePlane implements DevicePlane {
  readonly guard: CredentialGuard;
  readonly #fence: (() => boolean) | undefined;
  readonly #appliances = new Map<string, FakeAppliance>();
  readonly #lunaCms = new Map<string, FakeLunaCm>();
  readonly #firstSeen = new Map<string, string>();
  readonly #blocked = new Map<string, { expected: string; seen: string }>();
  readonly #failures: ScriptedFailure[] = [];
  /** Calls refused because of a host-key mismatch. */
  refusedByHostKey = 0;

  constructor(opts: FakeDevicePlaneOptions = {}) {
    this.guard = opts.guard ?? new CredentialGuard();
    this.#fence = opts.fence;
  }

  // --- world ---

  async addAppliance(o: FakeApplianceOptions): Promise<FakeAppliance> {
    const a = new FakeAppliance(o, await serverCertificateFor(o.hostname ?? 'hsm1'));
    this.#appliances.set(hp(a.host, a.port), a);
    return a;
  }

  addLunaCm(o: FakeLunaCmOptions): FakeLunaCm {
    const h = new FakeLunaCm(o, (serial) => this.#partition(serial));
    this.#lunaCms.set(hp(h.host, h.port), h);
    return h;
  }

  appliances(): FakeAppliance[] {
    return [...this.#appliances.values()];
  }

  /** The appliance at host:port (port 22 by default). */
  applianceAt(host: string, port = 22): FakeAppliance | undefined {
    return this.#appliances.get(hp(host, port));
  }

  lunaCmAt(host: string, port = 22): FakeLunaCm | undefined {
    return this.#lunaCms.get(hp(host, port));
  }

  /**
   * The next `times` matching commands fail with `error` (an Error, or a factory for a fresh one each time), thrown
   * where the command would reach the device (after abort, host key, guard and login): it is neither counted nor applied.
   */
  failNext(match: FailureMatch, error: Error | (() => Error), times = 1): void {
    this.#failures.push({ match, error: typeof error === 'function' ? error : () => error, remaining: times });
  }

  /** Every device's counters, summed. */
  counters(): FakeCounters {
    const sum = zeroCounters();
    for (const h of [...this.#appliances.values(), ...this.#lunaCms.values()]) {
      const c = h.counters;
      for (const [k, v] of Object.entries(c.commands.byName)) sum.commands.byName[k] = (sum.commands.byName[k] ?? 0) + v;
      sum.commands.stateChanging += c.commands.stateChanging;
      sum.commands.readOnly += c.commands.readOnly;
      sum.sshLogins.success += c.sshLogins.success;
      sum.sshLogins.failure += c.sshLogins.failure;
      sum.connections += c.connections;
      sum.hsmLogins.success += c.hsmLogins.success;
      sum.hsmLogins.failure += c.hsmLogins.failure;
      sum.ntlsHandshakes.success += c.ntlsHandshakes.success;
      sum.ntlsHandshakes.failure += c.ntlsHandshakes.failure;
      sum.tcpProbes += c.tcpProbes;
    }
    return sum;
  }

  // --- DevicePlane ---

  appliance(endpoint: SshEndpoint, opts: DeviceFacadeOptions = {}): ApplianceOps {
    return new FakeApplianceOps(this, { ...endpoint, role: endpoint.role ?? 'appliance-ssh' }, opts);
  }

  lunaCm(endpoint: SshEndpoint, opts: DeviceFacadeOptions = {}): LunaCmOps {
    return new FakeLunaCmOps(this, { ...endpoint, role: endpoint.role ?? 'lunacm-ssh' }, opts);
  }

  /** src/luna/zeroize.ts's own decisions (zeroizeLoop), with each failed `hsm login` applied to the fake appliance. */
  async zeroize(endpoint: SshEndpoint, confirmation: ZeroizeConfirmation, opts: DeviceFacadeOptions = {}): Promise<ZeroizeReport> {
    const appliance = this.appliance(endpoint, opts);
    const ep: SshEndpoint = { ...endpoint, role: endpoint.role ?? 'appliance-ssh' };
    return zeroizeLoop(confirmation, endpoint.host, opts, {
      show: () => appliance.show(),
      failLogin: () =>
        this.exec('appliance', ep, 'hsm login', 'hsm login', true, opts, (h) => {
          const a = asAppliance(h);
          // A random wrong password, as the real path types: always a failed attempt.
          a.counters.hsmLogins.failure++;
          a.soAttemptsLeft--;
          if (a.soAttemptsLeft <= 0) a.zeroize();
        }).then(() => undefined),
    });
  }

  async probeNtls(o: NtlsProbeOptions): Promise<NtlsProbeResult> {
    const port = o.port ?? 1792;
    abortCheck(o.signal, o.host, `NTLS handshake on port ${port}`);
    this.#fenceCheck(o.host, 'NTLS handshake');
    const expected = parseCertificate(o.serverCertPem).sha256;
    const a = [...this.#appliances.values()].find((x) => x.host === o.host && x.ntlsPort === port);
    const scripted = this.#takeFailure(o.host, port, 'ntls handshake');
    if (scripted) throw scripted;
    if (!a || a.isDown) return { ok: false, reason: 'unreachable', message: `connect ECONNREFUSED ${o.host}:${port}` };
    await this.#latency(a, o.signal, `NTLS handshake on port ${port}`);
    const server = parseCertificate(a.serverCertPem).sha256;
    if (server !== expected) {
      a.counters.ntlsHandshakes.failure++;
      return { ok: false, reason: 'server-not-trusted', message: 'NTLS server certificate differs from server.pem' };
    }
    const der = parseCertificate(o.clientCertPem).der;
    if (![...a.clients.values()].some((c) => c.certDer.equals(der))) {
      a.counters.ntlsHandshakes.failure++;
      return { ok: false, reason: 'client-not-trusted', message: 'tlsv1 alert unknown ca' };
    }
    a.counters.ntlsHandshakes.success++;
    return { ok: true, protocol: 'TLSv1.2', serverFingerprint: server };
  }

  async probeTcp(address: { host: string; port: number }, timeoutMs: number, opts: DeviceCallOptions = {}): Promise<TcpProbe> {
    abortCheck(opts.signal, address.host, `TCP connect to port ${address.port}`);
    const scripted = this.#takeFailure(address.host, address.port, 'tcp connect');
    if (scripted) return { ok: false, timedOut: true, detail: `no answer within ${timeoutMs} ms` };
    const h = [...this.#appliances.values(), ...this.#lunaCms.values()].find(
      (x) => x.host === address.host && (x.port === address.port || (x instanceof FakeAppliance && x.ntlsPort === address.port)),
    );
    if (h) h.counters.tcpProbes++;
    if (!h || h.isDown) return { ok: false, timedOut: false, code: 'ECONNREFUSED', detail: `connect ECONNREFUSED ${address.host}:${address.port}` };
    return { ok: true };
  }

  observedHostKey(host: string, port = 22): string | undefined {
    return this.#firstSeen.get(hp(host, port));
  }

  // --- the wire, as the pool drives it ---

  /**
   * One command on the host behind `ep`, in the pool's order: abort, host-key block, guard, connect, host key, login,
   * the host's latency (an abort there leaves it unapplied), a scripted failure, then `apply` (counted first).
   */
  async exec<T>(kind: 'appliance' | 'lunacm', ep: SshEndpoint, name: string, display: string, changesState: boolean, opts: DeviceFacadeOptions, apply: (h: Host) => T): Promise<T> {
    const host = validHost('SSH host', ep.host);
    const port = validPort('SSH port', ep.port ?? 22);
    const role: GuardRole = ep.role ?? (kind === 'lunacm' ? 'lunacm-ssh' : 'appliance-ssh');
    abortCheck(opts.signal, host, display);
    this.#checkBlocked(host, port, ep);
    const attempt = { host, role, secret: ep.credential.secret };
    this.guard.check(attempt);
    this.#fenceCheck(host, display);
    const h = kind === 'lunacm' ? this.#lunaCms.get(hp(host, port)) : this.#appliances.get(hp(host, port));
    if (!h || h.isDown) throw new SshConnectionError(host, port, `connect ECONNREFUSED ${host}:${port}`);
    const session = `${ep.username}#${ep.credential.secret.uid}@${ep.credential.secret.digest ?? ep.credential.secret.resourceVersion}`;
    // As the pool: a pin other than the live connection's key is proven on a fresh handshake.
    const pin = ep.hostKey.pinned === undefined ? undefined : normalizeHostKeyPin(ep.hostKey.pinned);
    if (pin !== undefined && pin !== h.hostKey) h.sessions.delete(session);
    if (!h.sessions.has(session)) {
      this.#verifyHostKey(h, ep);
      await this.guard.attempt(attempt, async () => {
        const scripted = this.#takeFailure(host, port, 'ssh login');
        if (scripted) {
          if (scripted instanceof AuthenticationRejectedError) h.counters.sshLogins.failure++;
          throw scripted;
        }
        const ok = ep.username === h.username && ep.credential.password !== undefined && ep.credential.password === h.password;
        h.counters.sshLogins[ok ? 'success' : 'failure']++;
        if (!ok) throw new AuthenticationRejectedError(host, role, ep.credential.secret.name, `SSH login as ${ep.username} was rejected`);
      });
      h.counters.connections++;
      h.sessions.add(session);
    }
    await this.#latency(h, opts.signal, display);
    this.#fenceCheck(host, display);
    const scripted = this.#takeFailure(host, port, name);
    if (scripted) throw scripted;
    h.count(name, changesState);
    return apply(h);
  }

  #verifyHostKey(h: Host, ep: SshEndpoint): void {
    const key = hp(h.host, h.port);
    const pin = ep.hostKey.pinned === undefined ? undefined : normalizeHostKeyPin(ep.hostKey.pinned);
    const expected = pin ?? this.#firstSeen.get(key);
    if (expected === undefined) {
      this.#firstSeen.set(key, h.hostKey);
      return;
    }
    if (expected === h.hostKey) return;
    this.#blocked.set(key, { expected, seen: h.hostKey });
    throw new HostKeyMismatchError(h.host, h.port, expected, h.hostKey);
  }

  #checkBlocked(host: string, port: number, ep: SshEndpoint): void {
    const key = hp(host, port);
    const b = this.#blocked.get(key);
    if (!b) return;
    const pin = ep.hostKey.pinned === undefined ? undefined : normalizeHostKeyPin(ep.hostKey.pinned);
    if (pin !== undefined && pin !== b.expected) {
      this.#blocked.delete(key);
      this.#firstSeen.delete(key);
      return;
    }
    this.refusedByHostKey++;
    throw new HostKeyMismatchError(host, port, b.expected, b.seen);
  }

  #fenceCheck(host: string, display: string): void {
    if (this.#fence && !this.#fence()) throw new NotLeaderError(host, display);
  }

  async #latency(h: Host, signal: AbortSignal | undefined, display: string): Promise<void> {
    if (h.latencyMs <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', abort);
        resolve();
      }, h.latencyMs);
      const abort = (): void => {
        clearTimeout(t);
        reject(new DeviceAbortedError(h.host, display, true));
      };
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  #takeFailure(host: string, port: number, command: string): Error | undefined {
    const i = this.#failures.findIndex(
      (f) => (f.match.host === undefined || f.match.host === host) && (f.match.port === undefined || f.match.port === port) && (f.match.command === undefined ? !['ssh login', 'ntls handshake', 'tcp connect'].includes(command) : f.match.command === command),
    );
    const f = this.#failures[i];
    if (!f) return undefined;
    if (--f.remaining <= 0) this.#failures.splice(i, 1);
    return f.error();
  }

  #partition(serial: string): { appliance: FakeAppliance; partition: FakePartition } | undefined {
    for (const appliance of this.#appliances.values()) {
      const partition = appliance.partitions.find((p) => p.serial === serial);
      if (partition) return { appliance, partition };
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Facades

/** What the two fake facades share: DeviceShell.run over the fake wire. */
abstract class FakeShell {
  protected abstract readonly kind: 'appliance' | 'lunacm';

  constructor(
    protected readonly plane: FakeDevicePlane,
    protected readonly ep: SshEndpoint,
    protected readonly opts: DeviceFacadeOptions,
  ) {}

  /** Runs `cmd` against the device: `respond` is what the device prints; the real parser reads it. */
  protected async run<T>(cmd: LunaCommand<T>, respond: (h: Host) => string): Promise<T> {
    abortCheck(this.opts.signal, this.ep.host, cmd.display);
    this.opts.onCommand?.({ tool: cmd.tool, host: this.ep.host, name: cmd.name, display: cmd.display, changesState: cmd.changesState });
    const out = await this.plane.exec(this.kind, this.ep, cmd.name, cmd.display, cmd.changesState, this.opts, respond);
    return cmd.parse(out);
  }
}

const NOT_IN_LIST = ['C000040A', 'RC_OBJECT_NOT_IN_LIST'] as const;
const SUCCESS = '\nCommand Result : 0 (Success)\n';

class FakeApplianceOps extends FakeShell implements ApplianceOps {
  protected readonly kind = 'appliance';

  async show(): Promise<HsmShow> {
    return this.run(lunash.hsmShow(), (h) => renderHsmShow(asAppliance(h)));
  }

  async packages(): Promise<PackageList> {
    // The table lunash-shell.ts prints (its renderer is not exported).
    return this.run(lunash.packageList(), (h) => {
      const rows = asAppliance(h).packages.map((p) => `${p.name.padEnd(42)}${p.version.padEnd(17)}${p.release}`);
      return ['Package Name                              Version          Release', '========================================  ===============  ========', ...rows, ''].join('\n') + SUCCESS;
    });
  }

  async partitions(): Promise<PartitionInfo[]> {
    return this.run(lunash.partitionList(), (h) =>
      renderPartitionList(
        asAppliance(h).partitions.map((p) => ({ serial: p.serial, label: p.label, version: '0', objects: p.objects, total: 648381, used: 0, free: 648381 })),
        'version-column',
      ),
    );
  }

  async ntls(): Promise<NtlsShow> {
    return this.run(lunash.ntlsShow(), () => `NTLS bound to network device: eth0  IP Address: "${this.ep.host}" (eth0)\n${SUCCESS}`);
  }

  async clients(): Promise<string[]> {
    return this.run(lunash.clientList(), (h) => renderClientList([...asAppliance(h).clients.keys()]));
  }

  async client(name: string): Promise<ClientInfo | undefined> {
    return notFoundAsUndefined(
      this.run(lunash.clientShow(name), (h) => {
        const c = asAppliance(h).clients.get(name);
        return c ? renderClientShow(c) : renderFailed('client show', ...NOT_IN_LIST, 'Specified client does not exist.');
      }),
    );
  }

  async clientFingerprint(name: string): Promise<string | undefined> {
    return notFoundAsUndefined(
      this.run(lunash.clientFingerprint(name), (h) => {
        const a = asAppliance(h);
        const c = a.clients.get(name);
        return c ? renderClientFingerprint(digestHex(c.certDer, a.fingerprintDigest)) : renderFailed('client fingerprint', ...NOT_IN_LIST, 'Specified client does not exist.');
      }),
    );
  }

  async registerClient(name: string, identity: ClientIdentity, certPem?: string): Promise<CommandOutcome> {
    const cmd = lunash.clientRegister(name, identity);
    if (certPem !== undefined) await this.uploadFile(lunash.clientCertFileName(identity), Buffer.from(certPem));
    return this.run(cmd, (h) => {
      const a = asAppliance(h);
      const host = identity.ip ?? identity.hostname;
      if (a.clients.has(name)) return renderFailed('client register', 'C0000404', 'RC_OBJECT_ALREADY_EXISTS', 'A client with the specified name already exists.');
      if (identity.ip !== undefined && [...a.clients.values()].some((c) => c.ip === identity.ip)) return renderShellError('A client with the same IP address has already been registered.');
      const file = a.files.get(`${host}.pem`);
      if (!file) return renderFailed('client register', 'C0000406', 'RC_FILE_NOT_FOUND', `Certificate file ${host}.pem not found. Copy it to the appliance with scp first.`);
      let der: Buffer;
      try {
        der = parseCertificate(file).der;
      } catch {
        return renderFailed('client register', 'C0000407', 'RC_INVALID_CERTIFICATE', `${host}.pem is not a valid certificate.`);
      }
      a.clients.set(name, { name, ...(identity.ip !== undefined ? { ip: identity.ip } : { hostname: identity.hostname }), certPem: file.toString('utf8'), certDer: der, partitions: [] });
      return renderOk('client register');
    });
  }

  async assignPartition(client: string, partition: string): Promise<CommandOutcome> {
    return this.run(lunash.clientAssignPartition(client, partition), (h) => partitionAccess(asAppliance(h), client, partition, true));
  }

  async revokePartition(client: string, partition: string): Promise<CommandOutcome> {
    return this.run(lunash.clientRevokePartition(client, partition), (h) => partitionAccess(asAppliance(h), client, partition, false));
  }

  async deleteClient(name: string): Promise<CommandOutcome> {
    return this.run(lunash.clientDelete(name), (h) => {
      const a = asAppliance(h);
      if (!a.clients.delete(name)) return renderFailed('client delete', ...NOT_IN_LIST, 'Specified client does not exist.');
      return renderOk('client delete');
    });
  }

  async uploadFile(name: string, data: Buffer | string): Promise<void> {
    const file = validFileName(name);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const display = `scp -t ${file}`;
    abortCheck(this.opts.signal, this.ep.host, display);
    this.opts.onCommand?.({ tool: 'lunash', host: this.ep.host, name: 'scp upload', display, changesState: true });
    await this.plane.exec('appliance', this.ep, 'scp upload', display, true, this.opts, (h) => asAppliance(h).files.set(file, Buffer.from(bytes)));
  }

  async downloadFile(name: string): Promise<Buffer> {
    const file = validFileName(name);
    const display = `scp -f ${file}`;
    abortCheck(this.opts.signal, this.ep.host, display);
    this.opts.onCommand?.({ tool: 'lunash', host: this.ep.host, name: 'scp download', display, changesState: false });
    return this.plane.exec('appliance', this.ep, 'scp download', display, false, this.opts, (h) => {
      const data = asAppliance(h).files.get(file);
      if (!data) throw new ScpError(`scp: ${file}: No such file or directory`);
      return Buffer.from(data);
    });
  }

  async serverCertificate(): Promise<ServerCertificate> {
    const pem = (await this.downloadFile('server.pem')).toString('utf8');
    return { pem, facts: parseCertificate(pem) };
  }
}

function partitionAccess(a: FakeAppliance, client: string, partition: string, assign: boolean): string {
  const name = assign ? 'client assignPartition' : 'client revokePartition';
  const c = a.clients.get(client);
  if (!c) return renderFailed(name, ...NOT_IN_LIST, 'Specified client does not exist.');
  if (!a.partitions.some((p) => p.label === partition)) return renderFailed(name, ...NOT_IN_LIST, 'Specified partition does not exist.');
  const has = c.partitions.includes(partition);
  if (assign && has) return renderFailed(name, 'C0000405', 'RC_ALREADY_ASSIGNED', 'The client already has access to the specified partition.');
  if (!assign && !has) return renderShellError('Specified partition was not assigned to client');
  c.partitions = assign ? [...c.partitions, partition] : c.partitions.filter((p) => p !== partition);
  return renderOk(name);
}

const CKR_ARGUMENTS_BAD = 0x7;
const CKR_TOKEN_NOT_PRESENT = 0xe0;
const CKR_DEVICE_ERROR = 0x30;

class FakeLunaCmOps extends FakeShell implements LunaCmOps {
  protected readonly kind = 'lunacm';

  async listGroups(): Promise<HaGroupList> {
    return this.run(lunacm.hagroupListGroups(), (h) => {
      const cm = asLunaCm(h);
      cm.observe();
      return renderListGroups(
        {
          settings: { autoRecoveryEnabled: cm.retryCount !== 0, recoveryMode: 'activeEnhanced', maxRetries: cm.retryCount, intervalSeconds: cm.intervalSeconds },
          groups: [...cm.groups.values()].map((g) => this.#view(g)),
        },
        'with-settings',
      );
    });
  }

  async createGroup(label: string, serial: string, password: GuardedPassword): Promise<LunaCmOutcome> {
    return this.#withPassword(password, lunacm.hagroupCreateGroup(label, serial, password.value).command, (cm) => {
      if (cm.groups.has(label)) return renderLunaCmNotice(LABEL_USED, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD');
      const found = this.#partition(serial);
      if (!found) return renderLunaCmError(`No partition with serial number ${serial} found.`, CKR_TOKEN_NOT_PRESENT, 'CKR_TOKEN_NOT_PRESENT');
      const bad = checkCoPassword(cm, found.partition, password.value);
      if (bad) return bad;
      const g: FakeHaGroup = { label, number: `1${serial}`, slotId: cm.nextSlotId++, synchronize: true, members: [{ serial, status: 'alive', autoAttempts: 0, recoveries: 0 }] };
      cm.groups.set(label, g);
      return renderLunaCmOk(LUNACM_MESSAGES.created(label, g.number, renderGroupBlock(this.#view(g))));
    });
  }

  async addMember(group: string, serial: string, password: GuardedPassword): Promise<LunaCmOutcome> {
    return this.#withPassword(password, lunacm.hagroupAddMember(group, serial, password.value).command, (cm) => {
      const g = cm.groups.get(group);
      if (!g) return groupNotFound(group);
      if ([...cm.groups.values()].some((x) => x.members.some((m) => m.serial === serial))) return renderLunaCmNotice(ALREADY_MEMBER, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD');
      const found = this.#partition(serial);
      if (!found) return renderLunaCmError(`No partition with serial number ${serial} found.`, CKR_TOKEN_NOT_PRESENT, 'CKR_TOKEN_NOT_PRESENT');
      const bad = checkCoPassword(cm, found.partition, password.value);
      if (bad) return bad;
      g.members.push({ serial, status: 'alive', autoAttempts: 0, recoveries: 0 });
      return renderLunaCmOk(LUNACM_MESSAGES.added(serial, g.label, renderGroupBlock(this.#view(g))));
    });
  }

  async removeMember(group: string, serial: string): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupRemoveMember(group, serial), (h) => {
      const g = asLunaCm(h).groups.get(group);
      if (!g) return groupNotFound(group);
      const before = g.members.length;
      g.members = g.members.filter((m) => m.serial !== serial);
      if (g.members.length === before) return renderLunaCmError(`Member ${serial} not found in group ${g.label}.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD');
      return renderLunaCmOk(LUNACM_MESSAGES.removed(serial, g.label));
    });
  }

  async recover(group: string): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupRecover(group), (h) => {
      const cm = asLunaCm(h);
      const g = cm.groups.get(group);
      if (!g) return groupNotFound(group);
      cm.observe();
      const lines: string[] = [];
      const back: string[] = [];
      const stillDown: string[] = [];
      for (const m of g.members) {
        if (m.status !== 'down') continue;
        if (cm.reachable(m.serial)) {
          m.status = 'alive';
          m.autoAttempts = 0;
          m.recoveries++;
          cm.manualRecoveries++;
          back.push(m.serial);
          lines.push(`Member ${m.serial} recovered.`);
        } else stillDown.push(m.serial);
      }
      if (stillDown.length) return `${lines.join('\n')}${renderLunaCmError(`Failed to recover member(s) ${stillDown.join(', ')}.`, CKR_DEVICE_ERROR, 'CKR_DEVICE_ERROR')}`;
      return renderLunaCmOk(back.length ? LUNACM_MESSAGES.recovered(back.join(',')) : 'No members need recovery.\n');
    });
  }

  async setAutoRecoveryRetries(count: number): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupRetry(count), (h) => {
      asLunaCm(h).retryCount = count;
      return renderLunaCmOk(LUNACM_MESSAGES.retrySet(String(count)));
    });
  }

  async setAutoRecoveryInterval(seconds: number): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupInterval(seconds), (h) => {
      asLunaCm(h).intervalSeconds = seconds;
      return renderLunaCmOk(LUNACM_MESSAGES.intervalSet(String(seconds)));
    });
  }

  async synchronize(group: string, enable: boolean): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupSynchronize(group, enable), (h) => {
      const g = asLunaCm(h).groups.get(group);
      if (!g) return groupNotFound(group);
      g.synchronize = enable;
      return renderLunaCmOk(LUNACM_MESSAGES.synchronization(enable ? 'enabled' : 'disabled', g.label));
    });
  }

  /** As LunaCmHost: the group password goes through the guard (role `hagroup-password`), sent once per value. */
  async #withPassword(password: GuardedPassword, cmd: LunaCommand<LunaCmOutcome>, respond: (cm: FakeLunaCm) => string): Promise<LunaCmOutcome> {
    return this.plane.guard.attempt({ host: this.ep.host, role: 'hagroup-password', secret: password.secret }, async () => {
      try {
        return await this.run(cmd, (h) => respond(asLunaCm(h)));
      } catch (e) {
        if (e instanceof LunaCommandError && (e.kind === 'credential-rejected' || e.kind === 'locked')) {
          throw new AuthenticationRejectedError(this.ep.host, 'hagroup-password', password.secret.name, e.message);
        }
        throw e;
      }
    });
  }

  #partition(serial: string): { appliance: FakeAppliance; partition: FakePartition } | undefined {
    for (const appliance of this.plane.appliances()) {
      if (appliance.isDown) continue;
      const partition = appliance.partitions.find((p) => p.serial === serial);
      if (partition) return { appliance, partition };
    }
    return undefined;
  }

  #view(g: FakeHaGroup): ListGroupView {
    const labelOf = (serial: string): string | undefined => this.#partition(serial)?.partition.label;
    const domainOf = (serial: string): string | undefined => this.#partition(serial)?.partition.cloningDomain;
    const primary = g.members[0] ? domainOf(g.members[0].serial) : undefined;
    const i = primary === undefined ? -1 : g.members.findIndex((m) => domainOf(m.serial) !== undefined && domainOf(m.serial) !== primary);
    return {
      label: g.label,
      number: g.number,
      slotId: g.slotId,
      synchronization: g.synchronize,
      memberSerials: g.members.map((m) => m.serial),
      needsSync: false,
      standbyMembers: [],
      members: g.members.map((m) => ({ serial: m.serial, status: m.status, ...(m.status === 'alive' && labelOf(m.serial) !== undefined ? { label: labelOf(m.serial) } : {}) })),
      cloningConflicts: i > 0 ? [{ slotA: 0, slotB: i }] : [],
    };
  }
}

function groupNotFound(label: string): string {
  return renderLunaCmError(`HA group ${label} not found.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD');
}

/** A CO login on the partition: the simulator's one rule (checkCoLogin), counted on this fake LunaCM host. */
function checkCoPassword(cm: FakeLunaCm, partition: FakePartition, password: string): string | undefined {
  return checkCoLogin(partition, password, cm.passwordAttempts);
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function hp(host: string, port: number): string {
  return `${host}:${port}`;
}

function randomHostKey(): string {
  return `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
}

async function serverCertificateFor(hostname: string): Promise<IssuedCertificate> {
  return issueCertificate({ commonName: hostname, dnsNames: [hostname, 'localhost'], ipAddresses: ['127.0.0.1'], keyAlgorithm: 'ECDSAP256' });
}

function abortCheck(signal: AbortSignal | undefined, host: string, command: string): void {
  if (signal?.aborted) throw new DeviceAbortedError(host, command, false);
}

function asAppliance(h: Host): FakeAppliance {
  if (!(h instanceof FakeAppliance)) throw new Error(`${h.host}:${h.port} is a LunaCM host, not an appliance`);
  return h;
}

function asLunaCm(h: Host): FakeLunaCm {
  if (!(h instanceof FakeLunaCm)) throw new Error(`${h.host}:${h.port} is an appliance, not a LunaCM host`);
  return h;
}
