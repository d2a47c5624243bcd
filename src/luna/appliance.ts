/**
 * Typed facade over one Luna appliance's shell. Read-only calls are retried once on a dropped connection;
 * state-changing calls never are (whether they took effect is unknown) and are reported to `onCommand`
 * so callers and tests can prove that steady state issues none (invariant 6).
 */
import { parseCertificate, type CertificateFacts } from '../pki/index.js';
import { validFileName } from './args.js';
import type { CommandOutcome } from './command.js';
import { LunaCommandError } from './errors.js';
import * as lunash from './lunash.js';
import type { ClientIdentity } from './lunash.js';
import type { ClientInfo } from './parse/clients.js';
import type { HsmShow } from './parse/hsm.js';
import type { NtlsShow } from './parse/ntls.js';
import type { PackageList } from './parse/packages.js';
import type { PartitionInfo } from './parse/partitions.js';
import { scpReceive, scpSend } from './scp.js';
import type { SshEndpoint, SshPool } from './ssh-pool.js';
import { DeviceShell, type DeviceFacadeOptions } from './device-shell.js';
import type { ApplianceOps } from './device-plane.js';
import { throwIfAborted } from './abort.js';

export type { DeviceCommandEvent, DeviceFacadeOptions, DialogPolicy, DialogTranscript } from './device-shell.js';
export { runDialog } from './device-shell.js';

export interface ServerCertificate {
  pem: string;
  facts: CertificateFacts;
}

export class Appliance extends DeviceShell implements ApplianceOps {
  constructor(pool: SshPool, endpoint: SshEndpoint, opts: DeviceFacadeOptions = {}) {
    super(pool, endpoint, 'appliance-ssh', opts);
  }

  async show(): Promise<HsmShow> {
    return this.run(lunash.hsmShow());
  }

  /** Installed packages and `rebootPatchInstalled` (KB0019789, `lunasa-reboot-patch-3`). */
  async packages(): Promise<PackageList> {
    return this.run(lunash.packageList());
  }

  async partitions(): Promise<PartitionInfo[]> {
    return this.run(lunash.partitionList());
  }

  async ntls(): Promise<NtlsShow> {
    return this.run(lunash.ntlsShow());
  }

  async clients(): Promise<string[]> {
    return this.run(lunash.clientList());
  }

  /** The registered client, or undefined when the appliance does not know it. */
  async client(name: string): Promise<ClientInfo | undefined> {
    return notFoundAsUndefined(this.run(lunash.clientShow(name)));
  }

  /** The fingerprint the appliance holds for the client's certificate, or undefined when not registered. */
  async clientFingerprint(name: string): Promise<string | undefined> {
    return notFoundAsUndefined(this.run(lunash.clientFingerprint(name)));
  }

  /**
   * Registers a client. With `certPem`, the certificate is first uploaded as `<hostname|ip>.pem`, the name
   * `client register` looks for. A duplicate name fails with kind `already-exists`.
   */
  async registerClient(name: string, identity: ClientIdentity, certPem?: string): Promise<CommandOutcome> {
    const cmd = lunash.clientRegister(name, identity);
    if (certPem !== undefined) await this.uploadFile(lunash.clientCertFileName(identity), Buffer.from(certPem));
    return this.run(cmd);
  }

  /** `changed: false` when the client already had access. */
  async assignPartition(client: string, partition: string): Promise<CommandOutcome> {
    return this.run(lunash.clientAssignPartition(client, partition));
  }

  /** `changed: false` when the partition was not assigned. */
  async revokePartition(client: string, partition: string): Promise<CommandOutcome> {
    return this.run(lunash.clientRevokePartition(client, partition));
  }

  /** `changed: false` when no such client exists. */
  async deleteClient(name: string): Promise<CommandOutcome> {
    return this.run(lunash.clientDelete(name));
  }

  /** scp into the user's home directory (state-changing). */
  async uploadFile(name: string, data: Buffer | string): Promise<void> {
    const file = validFileName(name);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    throwIfAborted(this.opts.signal, this.ep.host, `scp -t ${file}`);
    this.opts.onCommand?.({ tool: 'lunash', host: this.ep.host, name: 'scp upload', display: `scp -t ${file}`, changesState: true });
    await this.pool.withChannel(this.ep, `scp -t ${file}`, (ch) => scpSend(ch, file, bytes), { display: `scp -t ${file}`, ...this.signalOption() });
  }

  /** scp out of the user's home directory (read-only). */
  async downloadFile(name: string): Promise<Buffer> {
    const file = validFileName(name);
    throwIfAborted(this.opts.signal, this.ep.host, `scp -f ${file}`);
    this.opts.onCommand?.({ tool: 'lunash', host: this.ep.host, name: 'scp download', display: `scp -f ${file}`, changesState: false });
    const { value } = await this.pool.withChannel(this.ep, `scp -f ${file}`, (ch) => scpReceive(ch), { display: `scp -f ${file}`, retryOnDrop: true, ...this.signalOption() });
    return value.data;
  }

  /** The NTLS server certificate (`server.pem`), downloaded and parsed. */
  async serverCertificate(): Promise<ServerCertificate> {
    const pem = (await this.downloadFile('server.pem')).toString('utf8');
    return { pem, facts: parseCertificate(pem) };
  }
}

/** A command's answer, or undefined when the appliance says the thing asked about does not exist. */
export async function notFoundAsUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof LunaCommandError && e.kind === 'not-found') return undefined;
    throw e;
  }
}
