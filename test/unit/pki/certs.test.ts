import { describe, expect, it } from 'vitest';
import { connect, createServer } from 'node:tls';
import { once } from 'node:events';
import { digestHex, fingerprintMatches, issueCertificate, keyMatchesCertificate, normalizeFingerprint, parseCertificate } from '../../../src/pki/index.js';

describe('pki', () => {
  it('issues a self-signed certificate with SANs and validity that parse back', async () => {
    const notAfter = new Date(Date.now() + 3 * 86_400_000);
    const c = await issueCertificate({ commonName: 'app-a.example.internal', dnsNames: ['app-a.example.internal'], ipAddresses: ['127.0.0.1'], notAfter });
    const facts = parseCertificate(c.certPem);
    expect(facts.subjectCommonName).toBe('app-a.example.internal');
    expect(facts.selfSigned).toBe(true);
    expect(Math.abs(facts.notAfter.getTime() - notAfter.getTime())).toBeLessThan(1000);
    expect(facts.sha256.split(':')).toHaveLength(32);
    expect(keyMatchesCertificate(c.certPem, c.keyPem)).toBe(true);
    const other = await issueCertificate({ commonName: 'x', keyAlgorithm: 'ECDSAP256' });
    expect(keyMatchesCertificate(c.certPem, other.keyPem)).toBe(false);
  });

  it('issues CA-signed certificates that complete a real mutual-TLS handshake', async () => {
    const ca = await issueCertificate({ commonName: 'test-ca', isCA: true, keyAlgorithm: 'ECDSAP256' });
    const server = await issueCertificate({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], issuer: ca });
    const client = await issueCertificate({ commonName: 'client', issuer: ca });
    expect(parseCertificate(client.certPem).selfSigned).toBe(false);
    const srv = createServer({ cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => s.end('hi'));
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as { port: number }).port;
    const sock = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: client.certPem, key: client.keyPem, servername: 'localhost' });
    const [data] = (await once(sock, 'data')) as [Buffer];
    expect(data.toString()).toBe('hi');
    sock.destroy();
    srv.close();
  });

  it('matches Luna fingerprints of 16, 20 and 32 bytes and rejects others', async () => {
    const c = parseCertificate((await issueCertificate({ commonName: 'fp', keyAlgorithm: 'ECDSAP256' })).certPem);
    expect(fingerprintMatches(c, digestHex(c.der, 'md5'))).toBe(true);
    expect(fingerprintMatches(c, digestHex(c.der, 'sha1').toLowerCase())).toBe(true);
    expect(fingerprintMatches(c, c.sha256.replace(/:/g, ''))).toBe(true);
    expect(fingerprintMatches(c, 'D9:9E:25:B3:A9:68:06:50:8F:C4:90:FC:E5:50:E2:BC')).toBe(false);
    expect(fingerprintMatches(c, 'AB:CD')).toBe(false);
    expect(normalizeFingerprint('d99e25')).toBe('D9:9E:25');
  });

  it('refuses garbage with a message that carries no input', () => {
    expect(() => parseCertificate('-----BEGIN CERTIFICATE-----\nc2VjcmV0\n-----END CERTIFICATE-----')).toThrow(/^not a PEM-encoded X.509 certificate$/);
  });
});
