/**
 * The device plane as the controllers see it, beside the Azure plane (src/azure/types.ts): everything they need from
 * Luna appliances and LunaCM client hosts, and nothing else. The real one is `SshDevicePlane` (ssh-device-plane.ts,
 * over the SSH pool); tests use an in-memory fake (test/support/fakes/device-plane.ts).
 *
 * Every operation honours an AbortSignal (a reconcile passes `rc.signal`, which fires at the shutdown drain deadline
 * and when the leader Lease is lost): an aborted signal sends nothing (DeviceAbortedError, `inFlight: false`); one
 * that fires while a command runs closes its channel as a timeout does (`inFlight: true`), and the command is never
 * retried. Probes destroy their socket. A zeroize stops before its next `hsm login`.
 *
 * Failures are the luna errors (errors.ts): AuthenticationRejectedError, CredentialRefusedError, HostKeyMismatchError,
 * LunaCommandError (with its `kind`), SshConnectionError, SshCommandTimeoutError, DeviceAbortedError, ...
 */
import type { ServerCertificate } from './appliance.js';
import type { CommandOutcome } from './command.js';
import type { DeviceFacadeOptions } from './device-shell.js';
import type { LunaCmOutcome } from './lunacm.js';
import type { GuardedPassword } from './lunacm-host.js';
import type { ClientIdentity } from './lunash.js';
import type { NtlsProbeOptions, NtlsProbeResult } from './ntls.js';
import type { ClientInfo } from './parse/clients.js';
import type { HaGroupList } from './parse/hagroup.js';
import type { HsmShow } from './parse/hsm.js';
import type { NtlsShow } from './parse/ntls.js';
import type { PackageList } from './parse/packages.js';
import type { PartitionInfo } from './parse/partitions.js';
import type { SshEndpoint } from './ssh-pool.js';
import type { TcpProbe } from './tcp.js';
import type { ZeroizeConfirmation, ZeroizeReport } from './zeroize.js';

/** Options of one device operation. */
export interface DeviceCallOptions {
  signal?: AbortSignal;
}

/** One Luna appliance's shell (lunash and scp), as class Appliance offers it. */
export interface ApplianceOps {
  show(): Promise<HsmShow>;
  /** Installed packages and `rebootPatchInstalled` (KB0019789). */
  packages(): Promise<PackageList>;
  partitions(): Promise<PartitionInfo[]>;
  ntls(): Promise<NtlsShow>;
  clients(): Promise<string[]>;
  /** The registered client, or undefined when the appliance does not know it. */
  client(name: string): Promise<ClientInfo | undefined>;
  /** The fingerprint the appliance holds for the client's certificate, or undefined when not registered. */
  clientFingerprint(name: string): Promise<string | undefined>;
  /** With `certPem`, the certificate is uploaded first as `<hostname|ip>.pem`; a duplicate name fails `already-exists`. */
  registerClient(name: string, identity: ClientIdentity, certPem?: string): Promise<CommandOutcome>;
  /** `changed: false` when the client already had access. */
  assignPartition(client: string, partition: string): Promise<CommandOutcome>;
  /** `changed: false` when the partition was not assigned. */
  revokePartition(client: string, partition: string): Promise<CommandOutcome>;
  /** `changed: false` when no such client exists. */
  deleteClient(name: string): Promise<CommandOutcome>;
  /** scp into the user's home directory (state-changing). */
  uploadFile(name: string, data: Buffer | string): Promise<void>;
  /** scp out of the user's home directory (read-only). */
  downloadFile(name: string): Promise<Buffer>;
  /** The NTLS server certificate (`server.pem`), downloaded and parsed. */
  serverCertificate(): Promise<ServerCertificate>;
}

/** LunaCM on the client host that manages HA groups, as the HsmHaGroup controller uses it (class LunaCmHost). */
export interface LunaCmOps {
  listGroups(): Promise<HaGroupList>;
  /** The group password goes through the credential guard (role `hagroup-password`). */
  createGroup(label: string, serial: string, password: GuardedPassword): Promise<LunaCmOutcome>;
  addMember(group: string, serial: string, password: GuardedPassword): Promise<LunaCmOutcome>;
  removeMember(group: string, serial: string): Promise<LunaCmOutcome>;
  recover(group: string): Promise<LunaCmOutcome>;
  /** `hagroup retry -count`: 0 disables auto recovery, -1 unlimited. */
  setAutoRecoveryRetries(count: number): Promise<LunaCmOutcome>;
  setAutoRecoveryInterval(seconds: number): Promise<LunaCmOutcome>;
  synchronize(group: string, enable: boolean): Promise<LunaCmOutcome>;
}

export interface DevicePlane {
  /** The appliance behind `endpoint` (host key pinned, credential guarded); nothing is sent until a method is called. */
  appliance(endpoint: SshEndpoint, opts?: DeviceFacadeOptions): ApplianceOps;
  /** The LunaCM client host behind `endpoint`. */
  lunaCm(endpoint: SshEndpoint, opts?: DeviceFacadeOptions): LunaCmOps;
  /**
   * The one destructive path (invariant 2): zeroizes the HSM by failing HSM SO logins, only with the explicit
   * confirmation naming its serial. Never retried or continued after an abort.
   */
  zeroize(endpoint: SshEndpoint, confirmation: ZeroizeConfirmation, opts?: DeviceFacadeOptions): Promise<ZeroizeReport>;
  /** A real mutual-TLS handshake against an appliance's NTLS port (`opts.signal` honoured). */
  probeNtls(opts: NtlsProbeOptions): Promise<NtlsProbeResult>;
  /** One TCP connect with a deadline, nothing sent. */
  probeTcp(address: { host: string; port: number }, timeoutMs: number, opts?: DeviceCallOptions): Promise<TcpProbe>;
  /** The host key accepted on first use for host:port (trust-on-first-use endpoints only). */
  observedHostKey(host: string, port?: number): string | undefined;
}
