import { beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, parseCertificate, type CertificateFacts } from '../../../../src/pki/index.js';
import { assessDrift, driftText, expectedFingerprint, planChangesDevice, planClient, serverCertDrift, type DesiredClient } from '../../../../src/controllers/ntlsclientbinding/drift.js';

let cert: CertificateFacts;
let other: CertificateFacts;
let want: DesiredClient;

beforeAll(async () => {
  cert = parseCertificate((await issueCertificate({ commonName: 'app-a.example.internal', keyAlgorithm: 'ECDSAP256' })).certPem);
  other = parseCertificate((await issueCertificate({ commonName: 'someone-else', keyAlgorithm: 'ECDSAP256' })).certPem);
  want = { name: 'app-a', identity: { hostname: 'app-a.example.internal' }, partitions: ['par0', 'par1'], cert };
});

describe('planClient', () => {
  it('registers an unknown client and assigns every partition', () => {
    const p = planClient(want, { registered: false, partitions: [] });
    expect(p).toMatchObject({ unregister: false, register: true, assign: ['par0', 'par1'], revoke: [] });
    expect(p.drifts.map((d) => [d.reason, d.kind])).toEqual([['NotRegistered', 'registration']]);
  });

  it.each([
    ['md5', 16],
    ['sha1', 20],
    ['sha256', 32],
  ] as const)('accepts the %s fingerprint form the HSM prints (%i bytes) and changes nothing', (digest, bytes) => {
    expect(cert[digest].split(':')).toHaveLength(bytes);
    const p = planClient(want, { registered: true, hostname: 'APP-A.example.internal', partitions: ['par1', 'par0'], fingerprint: cert[digest].toLowerCase() });
    expect(p.drifts).toEqual([]);
    expect(planChangesDevice(p)).toBe(false);
  });

  it('re-registers when the HSM holds another certificate', () => {
    const p = planClient(want, { registered: true, hostname: 'app-a.example.internal', partitions: ['par0', 'par1'], fingerprint: other.md5 });
    expect(p).toMatchObject({ unregister: true, register: true, assign: ['par0', 'par1'], revoke: [] });
    expect(p.drifts.map((d) => d.reason)).toEqual(['FingerprintMismatch']);
    expect(p.drifts[0]?.message).toContain(cert.md5);
  });

  it('re-registers when the HSM reports no fingerprint for a listed client', () => {
    const p = planClient(want, { registered: true, hostname: 'app-a.example.internal', partitions: ['par0', 'par1'] });
    expect(p.unregister && p.register).toBe(true);
    expect(p.drifts.map((d) => d.reason)).toEqual(['FingerprintMismatch']);
  });

  it('re-registers when the client is registered under another identity', () => {
    const byIp = planClient(want, { registered: true, hostname: '10.0.0.7', ip: '10.0.0.7', partitions: ['par0', 'par1'], fingerprint: cert.sha1 });
    expect(byIp.drifts.map((d) => d.reason)).toEqual(['IdentityMismatch']);
    expect(byIp.unregister).toBe(true);
    const ipWant: DesiredClient = { ...want, identity: { ip: '10.0.0.8' } };
    expect(planClient(ipWant, { registered: true, hostname: '10.0.0.8', ip: '10.0.0.8', partitions: ['par0', 'par1'], fingerprint: cert.sha1 }).drifts).toEqual([]);
    expect(planClient(ipWant, { registered: true, hostname: '10.0.0.9', ip: '10.0.0.9', partitions: ['par0', 'par1'], fingerprint: cert.sha1 }).drifts[0]?.reason).toBe('IdentityMismatch');
  });

  it('gives no identity verdict when the device does not print one', () => {
    expect(planClient(want, { registered: true, partitions: ['par0', 'par1'], fingerprint: cert.sha256 }).drifts).toEqual([]);
  });

  it('assigns missing and revokes extra partitions without touching the registration', () => {
    const p = planClient(want, { registered: true, hostname: 'app-a.example.internal', partitions: ['par1', 'par9'], fingerprint: cert.md5 });
    expect(p).toMatchObject({ unregister: false, register: false, assign: ['par0'], revoke: ['par9'] });
    expect(p.drifts.map((d) => [d.reason, d.kind])).toEqual([
      ['PartitionMissing', 'partitions'],
      ['PartitionExtra', 'partitions'],
    ]);
  });

  it('re-registers from scratch when forced, even without drift', () => {
    const p = planClient(want, { registered: true, hostname: 'app-a.example.internal', partitions: ['par0', 'par1'], fingerprint: cert.md5 }, true);
    expect(p).toMatchObject({ drifts: [], unregister: true, register: true, assign: ['par0', 'par1'] });
  });
});

describe('expectedFingerprint', () => {
  it('uses the digest size the HSM printed, SHA-256 when it printed nothing', () => {
    expect(expectedFingerprint(cert, other.md5)).toBe(cert.md5);
    expect(expectedFingerprint(cert, other.sha1)).toBe(cert.sha1);
    expect(expectedFingerprint(cert, undefined)).toBe(cert.sha256);
  });
});

describe('serverCertDrift', () => {
  it('is no drift before the first hand-out or when unchanged, ServerCertChanged otherwise', () => {
    expect(serverCertDrift(undefined, cert.sha256)).toBeUndefined();
    expect(serverCertDrift(cert.sha256, cert.sha256)).toBeUndefined();
    expect(serverCertDrift(other.sha256, cert.sha256)).toMatchObject({ reason: 'ServerCertChanged', kind: 'serverCert' });
  });
});

describe('assessDrift', () => {
  const unregistered = () => planClient(want, { registered: false, partitions: [] });
  const base = { everPushed: true, handedOut: 'S1', serverNow: 'S1', observe: false, lastReported: undefined };

  it('does not call a first registration drift', () => {
    expect(assessDrift(unregistered(), { ...base, everPushed: false })).toEqual({ client: [], server: undefined, found: [] });
  });

  it('reports a client gone after the operator registered it, and a new server certificate', () => {
    const a = assessDrift(unregistered(), { ...base, serverNow: 'S2' });
    expect(a.found.map((d) => d.reason)).toEqual(['NotRegistered', 'ServerCertChanged']);
    expect(a.server?.kind).toBe('serverCert');
  });

  it('in observe mode reports the same drift once, a different one again', () => {
    const first = assessDrift(unregistered(), { ...base, observe: true });
    expect(first.found).toHaveLength(1);
    const again = assessDrift(unregistered(), { ...base, observe: true, lastReported: driftText(first.found) });
    expect(again.found).toEqual([]);
    expect(again.client).toHaveLength(1);
    expect(assessDrift(unregistered(), { ...base, observe: true, serverNow: 'S2', lastReported: driftText(first.found) }).found).toHaveLength(2);
    // In manage mode every detection is reported (each one was repaired in between).
    expect(assessDrift(unregistered(), { ...base, lastReported: driftText(first.found) }).found).toHaveLength(1);
  });
});
