/**
 * The output Secret a workload mounts: every target's server certificate, the client certificate and key, and a
 * Chrystoki.conf `LunaSA Client` section pointing at them. Pure rendering; the reconciler writes the result only
 * when it differs from what the Secret holds.
 *
 * Keys (the mixed-case names cannot collide with `<hsm>.pem`: DedicatedHsm names are lower case):
 *   <hsm>.pem          server.pem of each target, as the appliance serves it (<namespace>_<hsm>.pem for another namespace)
 *   CAFile.pem         all of them concatenated, in target order (Luna's ServerCAFile)
 *   ClientCert.pem     the client certificate registered on the HSMs (ClientCertFile)
 *   ClientPrivKey.pem  its private key (ClientPrivKeyFile)
 *   Chrystoki.conf     the `LunaSA Client` section with ServerNameNN/ServerPortNN per target
 */
import { parseCertificate } from '../../pki/index.js';

/** Where the documented volume mount puts the Secret; Chrystoki.conf names its files under this directory. */
export const NTLS_MOUNT_DIR = '/usr/safenet/lunaclient/ntls';

export const OutputKeys = {
  chrystoki: 'Chrystoki.conf',
  caFile: 'CAFile.pem',
  clientCert: 'ClientCert.pem',
  clientKey: 'ClientPrivKey.pem',
} as const;

/** `<hsm>.pem`; an HSM of another namespace (`ns/name` in status) is `<ns>_<name>.pem` (neither name can hold "_"). */
export const serverCertKey = (hsm: string): string => `${hsm.replace('/', '_')}.pem`;

export interface NtlsServer {
  /** DedicatedHsm name. */
  hsm: string;
  /** Address clients dial (the spec's host or the NIC's private IP). */
  host: string;
  port: number;
  serverPem: string;
}

export interface ClientFiles {
  certPem: string;
  keyPem: string;
}

const withNewline = (pem: string): string => (pem.endsWith('\n') ? pem : `${pem}\n`);

/** The `LunaSA Client` section of Chrystoki.conf for these servers (at most 100: ServerName00..99). */
export function renderChrystokiConf(servers: readonly NtlsServer[], mountDir: string = NTLS_MOUNT_DIR): string {
  const dir = mountDir.replace(/\/+$/, '');
  const lines = [
    'LunaSA Client = {',
    '   ReceiveTimeout = 20000;',
    '   NetClient = 1;',
    '   TCPKeepAlive = 1;',
    `   ServerCAFile = ${dir}/${OutputKeys.caFile};`,
    `   ClientCertFile = ${dir}/${OutputKeys.clientCert};`,
    `   ClientPrivKeyFile = ${dir}/${OutputKeys.clientKey};`,
  ];
  servers.slice(0, 100).forEach((s, i) => {
    const n = String(i).padStart(2, '0');
    lines.push(`   ServerName${n} = ${s.host};`, `   ServerPort${n} = ${s.port};`, `   ServerHtl${n} = 0;`);
  });
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** The whole data map of the output Secret (decoded strings). */
export function outputSecretData(servers: readonly NtlsServer[], client: ClientFiles, mountDir: string = NTLS_MOUNT_DIR): Record<string, string> {
  const data: Record<string, string> = {};
  for (const s of servers) data[serverCertKey(s.hsm)] = withNewline(s.serverPem);
  data[OutputKeys.caFile] = servers.map((s) => withNewline(s.serverPem)).join('');
  data[OutputKeys.clientCert] = withNewline(client.certPem);
  data[OutputKeys.clientKey] = withNewline(client.keyPem);
  data[OutputKeys.chrystoki] = renderChrystokiConf(servers, mountDir);
  return data;
}

/** SHA-256 of the server certificate handed out for `hsm`, or undefined when none is (or it is not a certificate). */
export function handedOutFingerprint(data: Readonly<Record<string, string>> | undefined, hsm: string): string | undefined {
  const pem = data?.[serverCertKey(hsm)];
  if (pem === undefined) return undefined;
  try {
    return parseCertificate(pem).sha256;
  } catch {
    return 'unreadable';
  }
}

/** Reads the servers back out of a Chrystoki.conf `LunaSA Client` section (tests and diagnostics). */
export function parseChrystokiServers(conf: string): { host: string; port: number }[] {
  const values = new Map<string, string>();
  for (const m of conf.matchAll(/^\s*(Server(?:Name|Port)\d{2})\s*=\s*([^;]+);/gm)) values.set(m[1] ?? '', (m[2] ?? '').trim());
  const out: { host: string; port: number }[] = [];
  for (let i = 0; ; i++) {
    const n = String(i).padStart(2, '0');
    const host = values.get(`ServerName${n}`);
    if (host === undefined) return out;
    out.push({ host, port: Number(values.get(`ServerPort${n}`)) });
  }
}
