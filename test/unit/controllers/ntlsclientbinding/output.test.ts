import { beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, parseCertificate, type IssuedCertificate } from '../../../../src/pki/index.js';
import {
  NTLS_MOUNT_DIR,
  OutputKeys,
  handedOutFingerprint,
  outputSecretData,
  parseChrystokiServers,
  renderChrystokiConf,
  serverCertKey,
  type NtlsServer,
} from '../../../../src/controllers/ntlsclientbinding/output.js';

let s1: IssuedCertificate;
let s2: IssuedCertificate;
let client: IssuedCertificate;
let servers: NtlsServer[];

beforeAll(async () => {
  const issue = (cn: string) => issueCertificate({ commonName: cn, keyAlgorithm: 'ECDSAP256' });
  [s1, s2, client] = await Promise.all([issue('hsm1'), issue('hsm2'), issue('app-a')]);
  servers = [
    { hsm: 'hsm1', host: '10.0.2.4', port: 1792, serverPem: s1.certPem },
    { hsm: 'hsm2', host: 'hsm2.example.internal', port: 1793, serverPem: s2.certPem.trimEnd() },
  ];
});

describe('renderChrystokiConf', () => {
  it('renders a LunaSA Client section with the files under the mount dir and one server entry per target, in order', () => {
    const conf = renderChrystokiConf(servers);
    expect(conf.startsWith('LunaSA Client = {\n')).toBe(true);
    expect(conf.trimEnd().endsWith('}')).toBe(true);
    expect(conf).toContain(`   ServerCAFile = ${NTLS_MOUNT_DIR}/CAFile.pem;\n`);
    expect(conf).toContain(`   ClientCertFile = ${NTLS_MOUNT_DIR}/ClientCert.pem;\n`);
    expect(conf).toContain(`   ClientPrivKeyFile = ${NTLS_MOUNT_DIR}/ClientPrivKey.pem;\n`);
    expect(conf).toContain('   ServerName00 = 10.0.2.4;\n   ServerPort00 = 1792;\n   ServerHtl00 = 0;\n');
    expect(conf).toContain('   ServerName01 = hsm2.example.internal;\n   ServerPort01 = 1793;\n');
    expect(parseChrystokiServers(conf)).toEqual([
      { host: '10.0.2.4', port: 1792 },
      { host: 'hsm2.example.internal', port: 1793 },
    ]);
    // Every assignment ends with a semicolon, as the Luna client's parser expects.
    for (const line of conf.split('\n').filter((l) => l.includes(' = ') && !l.endsWith('{'))) expect(line).toMatch(/;$/);
  });

  it('follows another mount dir (trailing slash tolerated)', () => {
    expect(renderChrystokiConf(servers, '/etc/luna/')).toContain('ServerCAFile = /etc/luna/CAFile.pem;');
  });

  it('renders no server entries for no servers', () => {
    expect(parseChrystokiServers(renderChrystokiConf([]))).toEqual([]);
  });
});

describe('outputSecretData', () => {
  it('holds each server.pem under <hsm>.pem, the CA file, the client pair and Chrystoki.conf', () => {
    const data = outputSecretData(servers, { certPem: client.certPem, keyPem: client.keyPem });
    expect(Object.keys(data).sort()).toEqual(['CAFile.pem', 'Chrystoki.conf', 'ClientCert.pem', 'ClientPrivKey.pem', 'hsm1.pem', 'hsm2.pem']);
    expect(parseCertificate(data[serverCertKey('hsm2')] ?? '').sha256).toBe(parseCertificate(s2.certPem).sha256);
    expect(data[OutputKeys.caFile]).toBe(`${s1.certPem}${s2.certPem.trimEnd()}\n`);
    expect(data[OutputKeys.clientKey]).toBe(client.keyPem);
  });

  it('is deterministic (so an unchanged Secret is never rewritten)', () => {
    expect(outputSecretData(servers, client)).toEqual(outputSecretData(servers, client));
  });
});

describe('handedOutFingerprint', () => {
  it('reads the SHA-256 of <hsm>.pem; undefined when absent; a marker when unreadable', () => {
    const data = outputSecretData(servers, client);
    expect(handedOutFingerprint(data, 'hsm1')).toBe(parseCertificate(s1.certPem).sha256);
    expect(handedOutFingerprint(data, 'hsm3')).toBeUndefined();
    expect(handedOutFingerprint({ 'hsm1.pem': 'junk' }, 'hsm1')).toBe('unreadable');
  });
});
