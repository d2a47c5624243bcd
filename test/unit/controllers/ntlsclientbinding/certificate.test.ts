import { beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, parseCertificate, type IssuedCertificate } from '../../../../src/pki/index.js';
import {
  certificateValidity,
  checkKeyPair,
  generatedSecretName,
  issuancePlan,
  issuedFor,
  leafPem,
  reissueReason,
  renewalTime,
  validityCondition,
  validityWindow,
} from '../../../../src/controllers/ntlsclientbinding/certificate.js';

const H = 3_600_000;
const t0 = Date.UTC(2030, 0, 1);
let pair: IssuedCertificate;
let stranger: IssuedCertificate;

beforeAll(async () => {
  pair = await issueCertificate({ commonName: 'app-a', keyAlgorithm: 'ECDSAP256', notBefore: new Date(t0), notAfter: new Date(t0 + 90 * H) });
  stranger = await issueCertificate({ commonName: 'other', keyAlgorithm: 'ECDSAP256' });
});

describe('renewalTime', () => {
  it('defaults to 2/3 of the lifetime (cert-manager)', () => {
    expect(renewalTime(new Date(t0), new Date(t0 + 90 * H)).getTime()).toBe(t0 + 60 * H);
  });
  it('honours renewBefore shorter than the lifetime', () => {
    expect(renewalTime(new Date(t0), new Date(t0 + 90 * H), 10 * H).getTime()).toBe(t0 + 80 * H);
  });
  it('falls back to the default when renewBefore is not shorter than the lifetime', () => {
    expect(renewalTime(new Date(t0), new Date(t0 + 90 * H), 90 * H).getTime()).toBe(t0 + 60 * H);
  });
  it('never renews in the first tenth of the lifetime (no re-issue loop)', () => {
    expect(renewalTime(new Date(t0), new Date(t0 + 100 * H), 99.5 * H).getTime()).toBe(t0 + 10 * H);
  });
});

describe('certificateValidity', () => {
  const facts = { notBefore: new Date(t0), notAfter: new Date(t0 + 90 * H) };
  it.each([
    [t0 - 1, 'notYetValid'],
    [t0 + H, 'valid'],
    [t0 + 60 * H, 'expiring'],
    [t0 + 90 * H, 'expired'],
  ] as const)('at %i is %s', (now, state) => {
    expect(certificateValidity(facts, now).state).toBe(state);
  });
});

describe('checkKeyPair', () => {
  it('accepts a certificate with its own key', () => {
    const r = checkKeyPair({ 'tls.crt': pair.certPem, 'tls.key': pair.keyPem }, 'Secret ns/app');
    expect(r.ok && r.pair.facts.subjectCommonName).toBe('app-a');
  });
  it.each([
    ['a missing tls.crt', () => ({ 'tls.key': pair.keyPem }), 'has no tls.crt'],
    ['a missing tls.key', () => ({ 'tls.crt': pair.certPem }), 'has no tls.key'],
    ['garbage in tls.crt', () => ({ 'tls.crt': 'not a certificate', 'tls.key': pair.keyPem }), 'not a PEM-encoded X.509 certificate'],
    ['a key of another certificate', () => ({ 'tls.crt': pair.certPem, 'tls.key': stranger.keyPem }), 'not the private key'],
    ['garbage in tls.key', () => ({ 'tls.crt': pair.certPem, 'tls.key': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), 'not the private key'],
  ])('refuses %s with a message that carries no key material', (_what, data, text) => {
    const r = checkKeyPair(data(), 'Secret ns/app');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toContain(text);
    expect(r.message).toContain('Secret ns/app');
    expect(r.message).not.toMatch(/BEGIN|AAAA/);
    for (const pem of [pair.keyPem, stranger.keyPem]) expect(r.message).not.toContain(pem.split('\n')[1]);
  });
});

describe('leafPem', () => {
  it('re-encodes the leaf so its digest equals the parsed one', () => {
    const facts = parseCertificate(pair.certPem + stranger.certPem);
    expect(parseCertificate(leafPem(facts)).sha256).toBe(parseCertificate(pair.certPem).sha256);
  });
});

describe('generated certificates', () => {
  const spec = { clientName: 'app-a', identity: { hostname: 'app-a.example.internal' }, certificate: { generate: { duration: '2160h', keyAlgorithm: 'ECDSAP256' as const } } };

  it('names the Secret after the binding, shortened with a hash when too long', () => {
    expect(generatedSecretName('app-a')).toBe('app-a-client-cert');
    const long = generatedSecretName('a'.repeat(248));
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/-[0-9a-f]{8}-client-cert$/);
  });

  it('defaults CN to the identity and puts it in the SAN', () => {
    expect(issuancePlan(spec, 10 * H)).toEqual({ commonName: 'app-a.example.internal', dnsNames: ['app-a.example.internal'], ipAddresses: [], keyAlgorithm: 'ECDSAP256', durationMs: 10 * H });
    expect(issuancePlan({ ...spec, identity: { ip: '10.1.2.3' } }, H)).toMatchObject({ commonName: '10.1.2.3', ipAddresses: ['10.1.2.3'], dnsNames: [] });
    expect(issuancePlan({ ...spec, certificate: { generate: { commonName: 'cn', duration: '1h', keyAlgorithm: 'RSA2048' } } }, H).commonName).toBe('cn');
  });

  it('backdates a little and keeps whole seconds', () => {
    const w = validityWindow(t0 + 1234, 30_000);
    expect(w.notBefore.getTime() % 1000).toBe(0);
    expect(w.notBefore.getTime()).toBeLessThanOrEqual(t0 + 1234);
    expect(w.notAfter.getTime()).toBe(t0 + 31_000);
    expect(validityWindow(t0, 2160 * H).notBefore.getTime()).toBe(t0 - 60_000);
  });

  it('decides when to issue again', () => {
    const plan = { ...issuancePlan(spec, 90 * H), commonName: 'app-a' };
    const check = checkKeyPair({ 'tls.crt': pair.certPem, 'tls.key': pair.keyPem }, 'Secret ns/app-a-client-cert');
    const stored = { check, issuedFor: issuedFor(plan) };
    expect(reissueReason(undefined, plan, t0)).toContain('no certificate');
    expect(reissueReason({ check: { ok: false, message: 'broken' }, issuedFor: issuedFor(plan) }, plan, t0)).toContain('broken');
    expect(reissueReason({ ...stored, issuedFor: 'something-else' }, plan, t0 + H)).toContain('settings changed');
    expect(reissueReason(stored, plan, t0 + H)).toBeUndefined();
    expect(reissueReason(stored, plan, t0 + 61 * H)).toContain('renewal time');
    expect(reissueReason(stored, plan, t0 + 85 * H, 10 * H)).toContain('renewal time');
    expect(reissueReason(stored, plan, t0 + 79 * H, 10 * H)).toBeUndefined();
    expect(reissueReason(stored, plan, t0 + 91 * H)).toContain('expired');
  });
});

describe('validityCondition', () => {
  const facts = { subjectCommonName: 'app-a', notBefore: new Date(t0), notAfter: new Date(t0 + 90 * H) };
  const secret = { kind: 'secret' as const, secret: 'app-a-tls' };
  it('is True/Valid, True/CertificateExpiring, False/CertificateExpired, False/CertificateInvalid', () => {
    expect(validityCondition(secret, facts, certificateValidity(facts, t0 + H))).toMatchObject({ status: 'True', reason: 'Valid' });
    const expiring = validityCondition(secret, facts, certificateValidity(facts, t0 + 70 * H));
    expect(expiring).toMatchObject({ status: 'True', reason: 'CertificateExpiring' });
    expect(expiring.message).toContain('cert-manager');
    expect(validityCondition(secret, facts, certificateValidity(facts, t0 + 95 * H))).toMatchObject({ status: 'False', reason: 'CertificateExpired' });
    expect(validityCondition(secret, facts, certificateValidity(facts, t0 - H))).toMatchObject({ status: 'False', reason: 'CertificateInvalid' });
  });
  it('says the same thing on every pass while nothing changes (no write in steady state)', () => {
    const a = validityCondition(secret, facts, certificateValidity(facts, t0 + H));
    const b = validityCondition(secret, facts, certificateValidity(facts, t0 + 2 * H));
    expect(a).toEqual(b);
  });
});
