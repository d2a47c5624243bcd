/**
 * State of one simulated Luna 7 appliance and the operations its shell performs on it. Tests read and
 * script it directly (drift: delete a client, re-register with another cert, revoke, regenCert).
 */
import { issueCertificate, parseCertificate, type IssuedCertificate } from '../../pki/index.js';
import type { HomeDir } from './scp-server.js';
import type { SimUser } from './ssh-server.js';

export interface SimPartition {
  label: string;
  serial: string;
  cloningDomain: string;
  /** Crypto Officer password (the HA group password LunaCM checks). */
  coPassword: string;
  coFailedLogins: number;
  objects: number;
}

export interface SimClient {
  name: string;
  hostname?: string;
  ip?: string;
  certPem: string;
  certDer: Buffer;
  partitions: string[];
}

export interface SimPackage {
  name: string;
  version: string;
  release: string;
}

export interface ApplianceState {
  hostname: string;
  serial: string;
  label: string;
  softwareVersion: string;
  firmware: string;
  model: string;
  zeroized: boolean;
  soPassword: string;
  /** HSM SO (Admin) login attempts left: 3, down to 0 = zeroized; a success resets it. */
  soAttemptsLeft: number;
  partitions: SimPartition[];
  clients: Map<string, SimClient>;
  serverCert: IssuedCertificate;
  packages: SimPackage[];
  users: Map<string, SimUser>;
  homes: Map<string, HomeDir>;
  /** Digest `client fingerprint` prints: 16 (md5, older firmware), 20 (sha1) or 32 (sha256) bytes. */
  fingerprintDigest: 'md5' | 'sha1' | 'sha256';
  ntlsDevice: string;
}

export interface AppliancePartitionOptions {
  label: string;
  serial?: string;
  cloningDomain?: string;
  coPassword?: string;
}

export interface ApplianceStateOptions {
  hostname?: string;
  serial?: string;
  username?: string;
  password?: string;
  publicKeys?: string[];
  zeroized?: boolean;
  soPassword?: string;
  soAttemptsLeft?: number;
  partitions?: AppliancePartitionOptions[];
  rebootPatchInstalled?: boolean;
  fingerprintDigest?: 'md5' | 'sha1' | 'sha256';
}

export const REBOOT_PATCH: SimPackage = { name: 'lunasa-reboot-patch-3', version: '1.0.0', release: '1' };

let nextSerial = 1_582_775_433_934;

export async function serverCertificateFor(hostname: string): Promise<IssuedCertificate> {
  return issueCertificate({ commonName: hostname, dnsNames: [hostname, 'localhost'], ipAddresses: ['127.0.0.1'], keyAlgorithm: 'ECDSAP256' });
}

export async function createApplianceState(o: ApplianceStateOptions = {}): Promise<ApplianceState> {
  const hostname = o.hostname ?? 'hsm1';
  const username = o.username ?? 'tenantadmin';
  const zeroized = o.zeroized ?? false;
  const state: ApplianceState = {
    hostname,
    serial: o.serial ?? String(572_000 + Math.floor(Math.random() * 999)),
    label: zeroized ? '' : hostname,
    softwareVersion: '7.2.0-220',
    firmware: '7.0.3',
    model: 'Luna K7',
    zeroized,
    soPassword: o.soPassword ?? 'so-password',
    soAttemptsLeft: zeroized ? 0 : (o.soAttemptsLeft ?? 3),
    partitions: zeroized
      ? []
      : (o.partitions ?? [{ label: 'par0' }]).map((p) => ({
          label: p.label,
          serial: p.serial ?? String(nextSerial++),
          cloningDomain: p.cloningDomain ?? 'domain-a',
          coPassword: p.coPassword ?? 'partition-password',
          coFailedLogins: 0,
          objects: 0,
        })),
    clients: new Map(),
    serverCert: await serverCertificateFor(hostname),
    packages: [
      { name: 'lunasa', version: '7.2.0', release: '220' },
      { name: 'lunasa-firmware', version: '7.0.3', release: '1' },
      { name: 'lunasa-ntls', version: '7.2.0', release: '220' },
      ...(o.rebootPatchInstalled ? [REBOOT_PATCH] : []),
    ],
    users: new Map([[username, { ...(o.password !== undefined || !o.publicKeys ? { password: o.password ?? 'PASSWORD' } : {}), ...(o.publicKeys ? { publicKeys: o.publicKeys } : {}) }]]),
    homes: new Map(),
    fingerprintDigest: o.fingerprintDigest ?? 'md5',
    ntlsDevice: 'eth0',
  };
  refreshServerPem(state);
  return state;
}

export function homeOf(state: ApplianceState, user: string): HomeDir {
  let home = state.homes.get(user);
  if (!home) {
    home = new Map();
    home.set('server.pem', Buffer.from(state.serverCert.certPem));
    state.homes.set(user, home);
  }
  return home;
}

/** server.pem in every user's home follows the current NTLS certificate. */
export function refreshServerPem(state: ApplianceState): void {
  for (const user of state.users.keys()) homeOf(state, user).set('server.pem', Buffer.from(state.serverCert.certPem));
}

/** Zeroization: every partition and object is gone, clients lose their assignments. */
export function zeroize(state: ApplianceState): void {
  state.zeroized = true;
  state.soAttemptsLeft = 0;
  state.label = '';
  state.partitions = [];
  for (const c of state.clients.values()) c.partitions = [];
}

export function registerClient(state: ApplianceState, c: { name: string; hostname?: string; ip?: string; certPem: string; partitions?: string[] }): SimClient {
  const client: SimClient = {
    name: c.name,
    ...(c.hostname !== undefined ? { hostname: c.hostname } : {}),
    ...(c.ip !== undefined ? { ip: c.ip } : {}),
    certPem: c.certPem,
    certDer: parseCertificate(c.certPem).der,
    partitions: [...(c.partitions ?? [])],
  };
  state.clients.set(c.name, client);
  return client;
}
