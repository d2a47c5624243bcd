/**
 * A simulated Luna 7 appliance on 127.0.0.1: lunash over SSH exec (with scp), NTLS with real mutual TLS,
 * state tests can script, faults (latency, drops, host-key change, down/up, drift), and counters of every
 * command and login attempt.
 */
import { REBOOT_PATCH, createApplianceState, refreshServerPem, registerClient, serverCertificateFor, type ApplianceState, type ApplianceStateOptions } from './appliance-state.js';
import { newCommandCounters, type CommandCounters, type LoginCounters } from './counters.js';
import { createLunashInterpreter } from './lunash-shell.js';
import { SimNtlsServer } from './ntls-server.js';
import { SimSshServer, type SshServerCounters } from './ssh-server.js';

export interface ApplianceSimulatorOptions extends ApplianceStateOptions {
  port?: number;
  ntlsPort?: number;
  latencyMs?: number;
  /** Drop SSH connections idle this long (real appliances: ~15 s); default never. */
  idleTimeoutMs?: number;
}

export interface ApplianceCounters {
  ssh: SshServerCounters;
  commands: CommandCounters;
  /** `hsm login` attempts (HSM SO), by outcome. */
  hsmLogins: LoginCounters;
  ntlsHandshakes: LoginCounters;
}

export interface ApplianceControls {
  readonly isDown: boolean;
  /** The appliance goes away: SSH and NTLS refuse connections. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** New SSH host key; returns its fingerprint. */
  changeHostKey(): string;
  /** Latency for every command, or only for lines starting with `commandPrefix`. */
  setLatency(ms: number, commandPrefix?: string): void;
  /** Drops every SSH connection now. */
  dropConnections(): void;
  /** The next exec drops the connection: before running, or mid-command after the first output. */
  dropNextCommand(when?: 'before' | 'mid'): void;
  setIdleTimeout(ms: number): void;
  /** Confirm channel closes only when their command ends (a peer whose commands outlive their channel). */
  closeChannelsOnlyWhenCommandsEnd(on: boolean): void;
  /** `sysconf regenCert` done behind the operator's back. */
  regenCert(): Promise<void>;
  deleteClient(name: string): void;
  registerClient(name: string, identity: { hostname: string } | { ip: string }, certPem: string, partitions?: string[]): void;
  revokePartition(client: string, partition: string): void;
  setPassword(user: string, password: string): void;
  setRebootPatch(installed: boolean): void;
}

export interface ApplianceSimulator {
  readonly host: string;
  readonly port: number;
  readonly ntlsPort: number;
  readonly username: string;
  readonly hostKeyFingerprint: string;
  readonly state: ApplianceState;
  readonly controls: ApplianceControls;
  readonly counters: ApplianceCounters;
  /** NTLS log lines, as the appliance's syslog shows them. */
  readonly ntlsLog: string[];
  stop(): Promise<void>;
}

export async function startApplianceSimulator(opts: ApplianceSimulatorOptions = {}): Promise<ApplianceSimulator> {
  const state = await createApplianceState(opts);
  const commands = newCommandCounters();
  const hsmLogins: LoginCounters = { success: 0, failure: 0 };
  const ntls = new SimNtlsServer({ serverCert: () => state.serverCert, clients: () => [...state.clients.values()], ...(opts.ntlsPort !== undefined ? { port: opts.ntlsPort } : {}) });
  const ssh = new SimSshServer({
    users: (u) => state.users.get(u),
    interpreter: createLunashInterpreter({ state, commands, hsmLogins, clientsChanged: () => ntls.refresh(), serverCertChanged: () => ntls.refresh() }),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  });
  ssh.faults.latencyMs = opts.latencyMs ?? 0;
  ssh.faults.idleTimeoutMs = opts.idleTimeoutMs ?? 0;
  await ssh.start();
  await ntls.start();
  let down = false;
  const username = opts.username ?? 'tenantadmin';

  const controls: ApplianceControls = {
    get isDown() {
      return down;
    },
    async down() {
      down = true;
      await Promise.all([ssh.stop(), ntls.stop()]);
    },
    async up() {
      await Promise.all([ssh.start(), ntls.start()]);
      down = false;
    },
    changeHostKey: () => ssh.changeHostKey(),
    setLatency(ms, prefix) {
      if (prefix === undefined) ssh.faults.latencyMs = ms;
      else ssh.faults.latencyByCommand.set(prefix, ms);
    },
    dropConnections: () => ssh.dropConnections(),
    dropNextCommand(when = 'mid') {
      ssh.faults.dropNext.push(when);
    },
    setIdleTimeout(ms) {
      ssh.faults.idleTimeoutMs = ms;
    },
    closeChannelsOnlyWhenCommandsEnd(on) {
      ssh.faults.closeOnlyWhenCommandEnds = on;
    },
    async regenCert() {
      state.serverCert = await serverCertificateFor(state.hostname);
      refreshServerPem(state);
      ntls.refresh();
    },
    deleteClient(name) {
      state.clients.delete(name);
      ntls.refresh();
    },
    registerClient(name, identity, certPem, partitions) {
      registerClient(state, { name, certPem, ...identity, ...(partitions ? { partitions } : {}) });
      ntls.refresh();
    },
    revokePartition(client, partition) {
      const c = state.clients.get(client);
      if (c) c.partitions = c.partitions.filter((p) => p !== partition);
    },
    setPassword(user, password) {
      state.users.set(user, { ...state.users.get(user), password });
    },
    setRebootPatch(installed) {
      state.packages = state.packages.filter((p) => p.name !== REBOOT_PATCH.name);
      if (installed) state.packages.push(REBOOT_PATCH);
    },
  };

  return {
    host: '127.0.0.1',
    port: ssh.port,
    ntlsPort: ntls.port,
    username,
    get hostKeyFingerprint() {
      return ssh.hostKeyFingerprint;
    },
    state,
    controls,
    counters: { ssh: ssh.counters, commands, hsmLogins, ntlsHandshakes: ntls.handshakes },
    ntlsLog: ntls.log,
    async stop() {
      await Promise.all([ssh.stop(), ntls.stop()]);
    },
  };
}
