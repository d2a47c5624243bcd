import { afterEach, describe, expect, it } from 'vitest';
import { Appliance, SshPool, probeNtls } from '../../../src/luna/index.js';
import { issueCertificate, type IssuedCertificate } from '../../../src/pki/index.js';
import { startApplianceSimulator, type ApplianceSimulator } from '../../../src/sandbox/luna/index.js';
import { applianceEndpoint, expectSoUntouched } from './support.js';

describe('NTLS mutual TLS against the appliance simulator', () => {
  let sim: ApplianceSimulator;
  let pool: SshPool;
  afterEach(async () => {
    expectSoUntouched(sim);
    await pool.close();
    await sim.stop();
  });

  async function registered(): Promise<{ appliance: Appliance; client: IssuedCertificate; serverPem: string }> {
    sim = await startApplianceSimulator({ hostname: 'hsm1', partitions: [{ label: 'par0' }] });
    pool = new SshPool();
    const appliance = new Appliance(pool, applianceEndpoint(sim));
    const client = await issueCertificate({ commonName: 'app-a.example.internal', keyAlgorithm: 'ECDSAP256' });
    await appliance.registerClient('app-a', { hostname: 'app-a.example.internal' }, client.certPem);
    await appliance.assignPartition('app-a', 'par0');
    return { appliance, client, serverPem: (await appliance.serverCertificate()).pem };
  }

  const probe = (serverPem: string, c: IssuedCertificate) => probeNtls({ host: sim.host, port: sim.ntlsPort, serverCertPem: serverPem, clientCertPem: c.certPem, clientKeyPem: c.keyPem });

  it('a registered client certificate completes the handshake', async () => {
    const { client, serverPem } = await registered();
    const r = await probe(serverPem, client);
    expect(r).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
    expect(sim.counters.ntlsHandshakes.success).toBe(1);
    expect(sim.ntlsLog.some((l) => /NTLS Client "app-a" Connection instance added/.test(l))).toBe(true);
  });

  it('an unregistered certificate fails with the "unknown ca" alert, and the appliance logs it like the guide', async () => {
    const { serverPem } = await registered();
    const stranger = await issueCertificate({ commonName: 'stranger' });
    const r = await probe(serverPem, stranger);
    expect(r).toMatchObject({ ok: false, reason: 'client-not-trusted' });
    expect(r.ok ? '' : r.message).toMatch(/alert unknown ca/);
    expect(sim.ntlsLog.join('\n')).toMatch(/Error during SSL accept \( RC_SSL_ERROR \)\n.*0xc0000711 : Fail to establish a secure channel with client : 127\.0\.0\.1\/\d+ : RC_SSL_FAILED_HANDSHAKE\n.*NTLS Client "Unknown host name" Connection instance removed/);
  });

  it('a stale certificate (client re-registered with another one, or deleted) fails the same way', async () => {
    const { client, serverPem } = await registered();
    const replacement = await issueCertificate({ commonName: 'app-a.example.internal', keyAlgorithm: 'ECDSAP256' });
    sim.controls.deleteClient('app-a');
    sim.controls.registerClient('app-a', { hostname: 'app-a.example.internal' }, replacement.certPem, ['par0']);
    expect(await probe(serverPem, client)).toMatchObject({ ok: false, reason: 'client-not-trusted' });
    expect(await probe(serverPem, replacement)).toMatchObject({ ok: true });
    sim.controls.deleteClient('app-a');
    expect(await probe(serverPem, replacement)).toMatchObject({ ok: false, reason: 'client-not-trusted' });
  });

  it('after regenCert the old server.pem no longer verifies; the new one does', async () => {
    const { appliance, client, serverPem } = await registered();
    await sim.controls.regenCert();
    expect(await probe(serverPem, client)).toMatchObject({ ok: false, reason: 'server-not-trusted' });
    const fresh = await appliance.serverCertificate();
    expect(fresh.pem).not.toBe(serverPem);
    expect(await probe(fresh.pem, client)).toMatchObject({ ok: true, serverFingerprint: fresh.facts.sha256 });
  });

  it('a CA-issued client certificate is trusted as registered', async () => {
    const { appliance, serverPem } = await registered();
    const ca = await issueCertificate({ commonName: 'cert-manager-ca', isCA: true, keyAlgorithm: 'ECDSAP256' });
    const leaf = await issueCertificate({ commonName: 'app-b.example.internal', issuer: ca });
    await appliance.registerClient('app-b', { hostname: 'app-b.example.internal' }, leaf.certPem);
    expect(await probe(serverPem, leaf)).toMatchObject({ ok: true });
    const sibling = await issueCertificate({ commonName: 'app-b.example.internal', issuer: ca });
    expect(await probe(serverPem, sibling)).toMatchObject({ ok: false, reason: 'client-not-trusted' });
  });

  it('NTLS refuses while the appliance is down', async () => {
    const { client, serverPem } = await registered();
    await sim.controls.down();
    expect(await probe(serverPem, client)).toMatchObject({ ok: false, reason: 'unreachable' });
    await sim.controls.up();
    expect(await probe(serverPem, client)).toMatchObject({ ok: true });
  });
});
