/**
 * A binding's life around its certificate and targets, through the real operator: a short-lived generated
 * certificate is renewed and re-pushed before it expires; a target that does not exist yet is waited for and
 * joined when it appears; a target dropped from the spec is cleaned up; an unusable certificate Secret stops the
 * binding with a clear condition; and deletion (deletionPolicy Delete) with an unreachable HSM keeps the finalizer until
 * the user abandons.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../../src/pki/index.js';
import { waitFor } from '../../../support/wait.js';
import { clientCertificate, condition, ntlsBinding, startBindingFixture, waitForHsm, waitReady, type BindingFixture } from './fixture.js';

describe('NtlsClientBinding lifecycle', () => {
  let fx: BindingFixture;

  beforeAll(async () => {
    fx = await startBindingFixture({
      prefix: 'ntlsb-life',
      hsms: [
        { name: 'hsm1', stampId: 'stamp1' },
        { name: 'hsm2', stampId: 'stamp2' },
        { name: 'hsm3', stampId: 'stamp1' },
      ],
      deploy: ['hsm1', 'hsm2'],
      // 1h (the shortest lifetime the CRD accepts) becomes 30s, 40m 20s, 4m 2s.
      compressedTime: { ntlsSpecScale: 1 / 120 },
    });
  }, 120_000);
  afterAll(async () => fx?.stop());

  const sim = (name: string) => {
    const s = fx.world.appliances.get(name);
    if (!s) throw new Error(`no appliance ${name}`);
    return s;
  };

  it('renews a generated certificate before it expires and pushes the new one', async () => {
    await fx.apply(ntlsBinding('short-lived', { generate: { duration: '1h' }, renewBefore: '40m', driftCheckInterval: '4m', targets: [{ hsm: 'hsm1', partitions: ['par0'] }] }));
    const first = await waitReady(fx, 'short-lived');
    const cert1 = first.status?.certificate;
    expect(cert1?.secretName).toBe('short-lived-client-cert');
    const lifetime = Date.parse(cert1?.notAfter ?? '') - Date.parse(cert1?.notBefore ?? '');
    expect(lifetime).toBeGreaterThan(25_000);
    expect(lifetime).toBeLessThan(35_000);
    expect(Date.parse(cert1?.renewalTime ?? '')).toBe(Date.parse(cert1?.notAfter ?? '') - 20_000);

    const renewed = await waitFor(
      'a renewed certificate on the HSM',
      async () => {
        const b = await fx.binding('short-lived');
        const fp = b.status?.certificate?.fingerprint;
        const onHsm = sim('hsm1').state.clients.get('short-lived');
        return fp !== cert1?.fingerprint && onHsm && parseCertificate(onHsm.certPem).sha256 === fp && b;
      },
      30_000,
      200,
    );
    // Re-pushed before the old certificate expired, and it never was reported expired.
    const pushedAt = Date.parse(renewed.status?.targets?.[0]?.lastPushedAt ?? '');
    expect(pushedAt).toBeLessThan(Date.parse(cert1?.notAfter ?? ''));
    expect(renewed.status?.targets?.[0]).toMatchObject({ pushes: 2, lastDrift: { reason: 'FingerprintMismatch' } });
    expect(condition(renewed, 'CertificateValid')?.reason).not.toBe('CertificateExpired');
    const secret = await fx.secretData('short-lived-client-cert');
    expect(parseCertificate(secret['tls.crt'] ?? '').sha256).toBe(renewed.status?.certificate?.fingerprint);
    expect((await fx.secretData('short-lived-ntls'))['ClientCert.pem']).toBe(secret['tls.crt']);
    await waitFor('a CertificateRenewed event', async () => (await fx.events('short-lived', 'CertificateRenewed')).length >= 1, 10_000);
    await fx.deleteBinding('short-lived');
  });

  it('waits for a DedicatedHsm that does not exist yet and registers the client once it is deployed', async () => {
    await fx.apply(
      ntlsBinding('late', {
        targets: [
          { hsm: 'hsm1', partitions: ['par0'] },
          { hsm: 'hsm3', partitions: ['par0'] },
        ],
      }),
    );
    const waiting = await waitFor('TargetNotFound', async () => {
      const b = await fx.binding('late');
      return condition(b, 'Registered')?.reason === 'TargetNotFound' && b;
    });
    expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'TargetNotFound' });
    expect(condition(waiting, 'Registered')?.message).toContain('hsm3');
    // The reachable target is served meanwhile.
    await waitFor('registered on hsm1', () => sim('hsm1').state.clients.has('late'));
    expect((await fx.secretData('late-ntls'))['hsm1.pem']).toBe(sim('hsm1').state.serverCert.certPem);

    await fx.deployHsm('hsm3');
    await waitForHsm(fx, 'hsm3');
    await waitReady(fx, 'late', 30_000);
    expect(sim('hsm3').state.clients.get('late')?.partitions).toEqual(['par0']);
    expect((await fx.secretData('late-ntls'))['hsm3.pem']).toBe(sim('hsm3').state.serverCert.certPem);
  });

  it('unregisters the client from a target dropped from the spec', async () => {
    const b = await fx.binding('late');
    await fx.patchBinding('late', { spec: { targets: b.spec.targets.filter((t) => t.dedicatedHsmRef.name !== 'hsm1') } });
    const after = await waitFor('hsm1 dropped', async () => {
      const x = await fx.binding('late');
      return x.status?.targets?.map((t) => t.dedicatedHsm).join() === 'hsm3' && condition(x, 'Ready')?.status === 'True' && x;
    });
    expect(sim('hsm1').state.clients.has('late')).toBe(false);
    expect(sim('hsm3').state.clients.has('late')).toBe(true);
    const data = await fx.secretData('late-ntls');
    expect(Object.keys(data).filter((k) => /^hsm\d\.pem$/.test(k))).toEqual(['hsm3.pem']);
    expect(after.status?.observedGeneration).toBe(after.metadata.generation);
  });

  it('leaves a client name alone that an older binding registers on the same HSM', async () => {
    const original = sim('hsm3').state.clients.get('late')?.certDer;
    await fx.apply(ntlsBinding('copycat', { clientName: 'late', targets: [{ hsm: 'hsm3', partitions: ['par0'] }] }));
    const c = await waitFor('the conflict reported', async () => {
      const b = await fx.binding('copycat');
      return condition(b, 'Ready')?.reason === 'InvalidSpec' && b;
    });
    expect(condition(c, 'Ready')?.message).toContain('belongs to NtlsClientBinding late');
    expect(condition(c, 'Stalled')?.status).toBe('True');
    await fx.deleteBinding('copycat');
    await waitFor('copycat gone', async () => (await fx.bindingIfExists('copycat')) === undefined);
    // Neither its passes nor its deletion touched the registration of the binding that holds the name.
    expect(sim('hsm3').state.clients.get('late')?.certDer.equals(original ?? Buffer.alloc(0))).toBe(true);
    expect(condition(await fx.binding('late'), 'Ready')?.status).toBe('True');
  });

  it('refuses a certificate Secret whose key does not match, without key material in the message, and recovers when fixed', async () => {
    const good = await clientCertificate('mismatch.example.internal');
    const other = await clientCertificate('other');
    await fx.putTlsSecret('mismatch-tls', { certPem: good.certPem, keyPem: other.keyPem });
    await fx.apply(ntlsBinding('mismatch', { secretRef: 'mismatch-tls', targets: [{ hsm: 'hsm2', partitions: ['par0'] }] }));
    const bad = await waitFor('CertificateInvalid', async () => {
      const b = await fx.binding('mismatch');
      return condition(b, 'CertificateValid')?.reason === 'CertificateInvalid' && b;
    });
    expect(condition(bad, 'Ready')).toMatchObject({ status: 'False', reason: 'CertificateInvalid' });
    expect(condition(bad, 'Stalled')?.status).toBe('True');
    const text = JSON.stringify(bad.status);
    expect(text).toContain('tls.key in Secret');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(other.keyPem.split('\n')[1]);
    expect(sim('hsm2').state.clients.has('mismatch')).toBe(false);

    await fx.putTlsSecret('mismatch-tls', good);
    await waitReady(fx, 'mismatch');
    expect(sim('hsm2').state.clients.get('mismatch')?.certDer.equals(parseCertificate(good.certPem).der)).toBe(true);
  });

  it('with deletionPolicy Delete keeps the finalizer while an HSM is unreachable and lets go on dedicatedhsm.io/abandon', async () => {
    try {
      await fx.apply(ntlsBinding('stuck', { targets: [{ hsm: 'hsm2', partitions: ['par0'] }], deletionPolicy: 'Delete' }));
      await waitReady(fx, 'stuck');
      await sim('hsm2').controls.down();
      await fx.deleteBinding('stuck');
      const blocked = await waitFor(
        'deletion blocked',
        async () => {
          const b = await fx.bindingIfExists('stuck');
          return condition(b, 'Ready')?.reason === 'Deleting' && condition(b, 'Registered')?.reason === 'ApplianceUnreachable' && b;
        },
        20_000,
      );
      expect(condition(blocked, 'Ready')?.message).toContain('dedicatedhsm.io/abandon');
      expect(blocked.metadata.finalizers).toContain('dedicatedhsm.io/finalizer');
      await fx.patchBinding('stuck', { metadata: { annotations: { 'dedicatedhsm.io/abandon': 'true' } } });
      await waitFor('stuck gone', async () => (await fx.bindingIfExists('stuck')) === undefined, 20_000);
      await waitFor('a ClientLeftRegistered event', async () => (await fx.events('stuck', 'ClientLeftRegistered')).length === 1, 10_000);
    } finally {
      if (sim('hsm2').controls.isDown) await sim('hsm2').controls.up();
    }
    // Abandoned: the device was not touched.
    expect(sim('hsm2').state.clients.has('stuck')).toBe(true);
  });
});
