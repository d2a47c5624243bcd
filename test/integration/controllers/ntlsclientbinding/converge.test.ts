/**
 * Two bindings on two HSMs through the real operator (DedicatedHsm controller included): they converge, hand out
 * the simulators' server certificates and a Chrystoki.conf naming the HSMs' addresses, pass the NTLS handshake,
 * cost nothing in steady state, honour observe and paused, refuse an unknown reconcile mode, and unregister everywhere
 * when deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINALIZER, type NtlsClientBinding } from '../../../../src/api/index.js';
import { HSM_METRIC_NAMES } from '../../../../src/observability/hsm-metrics.js';
import { parseChrystokiServers } from '../../../../src/controllers/ntlsclientbinding/output.js';
import { keyMatchesCertificate, parseCertificate, type IssuedCertificate } from '../../../../src/pki/index.js';
import { waitFor } from '../../../support/wait.js';
import { clientCertificate, condition, ntlsBinding, startBindingFixture, waitReady, type BindingFixture } from './fixture.js';

const HSMS = ['hsm1', 'hsm2'];

describe('NtlsClientBinding: two bindings on two HSMs', () => {
  let fx: BindingFixture;
  let appA: IssuedCertificate;

  beforeAll(async () => {
    fx = await startBindingFixture({
      prefix: 'ntlsb-converge',
      hsms: HSMS.map((name, i) => ({ name, stampId: i ? 'stamp2' : 'stamp1', partitions: [{ label: 'par0' }, { label: 'par1' }] })),
      // 30s (the CRD minimum) becomes 2s.
      // A generous handshake timeout: a starved test machine must not look like NTLS drift.
      settings: { ntlsTimeoutMs: 10_000 },
      compressedTime: { ntlsSpecScale: 1 / 15 },
    });
    appA = await clientCertificate('app-a.example.internal');
    await fx.putTlsSecret('app-a-tls', appA);
    await fx.apply(
      ntlsBinding('app-a', {
        secretRef: 'app-a-tls',
        targets: [
          { hsm: 'hsm1', partitions: ['par0', 'par1'] },
          { hsm: 'hsm2', partitions: ['par0'] },
        ],
        driftCheckInterval: '30s',
      }),
    );
    await fx.apply(
      ntlsBinding('app-b', {
        ip: '10.1.0.7',
        targets: [
          { hsm: 'hsm2', partitions: ['par0', 'par1'] },
          { hsm: 'hsm1', partitions: ['par1'] },
        ],
        driftCheckInterval: '30s',
      }),
    );
  }, 120_000);
  afterAll(async () => fx?.stop());

  const sim = (name: string) => {
    const s = fx.world.appliances.get(name);
    if (!s) throw new Error(`no appliance ${name}`);
    return s;
  };
  const stateChanging = () => HSMS.reduce((n, h) => n + sim(h).counters.commands.stateChanging, 0);
  const reads = (cmd: string) => HSMS.reduce((n, h) => n + (sim(h).counters.commands.byName[cmd] ?? 0), 0);

  it('converges both bindings: registered with their partitions, server certificates and Chrystoki.conf handed out, handshake passes', async () => {
    const a = await waitReady(fx, 'app-a');
    const b = await waitReady(fx, 'app-b');

    // On the devices: each client once, with the operator's certificate and exactly its partitions.
    const appB = await fx.secretData('app-b-client-cert');
    const want = { 'app-a': { hsm1: ['par0', 'par1'], hsm2: ['par0'] }, 'app-b': { hsm1: ['par1'], hsm2: ['par0', 'par1'] } } as const;
    for (const h of HSMS) {
      const clients = sim(h).state.clients;
      expect([...clients.keys()].sort()).toEqual(['app-a', 'app-b']);
      expect(clients.get('app-a')).toMatchObject({ hostname: 'app-a.example.internal' });
      expect(clients.get('app-b')).toMatchObject({ ip: '10.1.0.7' });
      expect(clients.get('app-a')?.certDer.equals(parseCertificate(appA.certPem).der)).toBe(true);
      expect(clients.get('app-b')?.certDer.equals(parseCertificate(appB['tls.crt'] ?? '').der)).toBe(true);
      expect([...(clients.get('app-a')?.partitions ?? [])].sort()).toEqual(want['app-a'][h as 'hsm1']);
      expect([...(clients.get('app-b')?.partitions ?? [])].sort()).toEqual(want['app-b'][h as 'hsm1']);
      expect(sim(h).counters.ntlsHandshakes.success).toBeGreaterThan(0);
    }

    // The generated certificate: an owned kubernetes.io/tls Secret, CN and SAN from the identity.
    const generated = await fx.secret('app-b-client-cert');
    expect(generated.type).toBe('kubernetes.io/tls');
    expect(generated.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'NtlsClientBinding', name: 'app-b', uid: b.metadata.uid, controller: true })]);
    expect(parseCertificate(appB['tls.crt'] ?? '').subjectCommonName).toBe('10.1.0.7');
    expect(keyMatchesCertificate(appB['tls.crt'] ?? '', appB['tls.key'] ?? '')).toBe(true);

    // The output Secrets: the simulators' server certificates, the client pair, a Chrystoki.conf in target order.
    const order = { 'app-a': ['hsm1', 'hsm2'], 'app-b': ['hsm2', 'hsm1'] } as const;
    for (const [name, binding, pair] of [
      ['app-a', a, appA],
      ['app-b', b, { certPem: appB['tls.crt'] ?? '', keyPem: appB['tls.key'] ?? '' }],
    ] as const) {
      const out = await fx.secret(`${name}-ntls`);
      expect(out.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'NtlsClientBinding', name, uid: binding.metadata.uid, controller: true })]);
      const data = await fx.secretData(`${name}-ntls`);
      for (const h of HSMS) expect(data[`${h}.pem`]).toBe(sim(h).state.serverCert.certPem);
      expect(data['CAFile.pem']).toBe(order[name].map((h) => sim(h).state.serverCert.certPem).join(''));
      expect(data['ClientCert.pem']).toBe(pair.certPem);
      expect(data['ClientPrivKey.pem']).toBe(pair.keyPem);
      const conf = data['Chrystoki.conf'] ?? '';
      expect(conf).toMatch(/^LunaSA Client = \{\n/);
      expect(conf).toContain('ClientCertFile = /usr/safenet/lunaclient/ntls/ClientCert.pem;');
      expect(parseChrystokiServers(conf)).toEqual(await Promise.all(order[name].map(async (h) => ({ host: await fx.hsmAddress(h), port: 1792 }))));

      // Status: every target registered once, fingerprints and server certificate recorded, kstatus Current.
      expect(binding.status?.outputSecretName).toBe(`${name}-ntls`);
      expect(binding.metadata.finalizers).toContain(FINALIZER);
      expect(condition(binding, 'CertificateValid')).toMatchObject({ status: 'True', reason: 'Valid' });
      expect(condition(binding, 'Registered')).toMatchObject({ status: 'True', reason: 'Registered' });
      expect(condition(binding, 'Reconciling')?.status).toBe('False');
      expect(condition(binding, 'Stalled')?.status).toBe('False');
      expect(binding.status?.certificate?.fingerprint).toBe(parseCertificate(pair.certPem).sha256);
      expect(binding.status?.targets?.map((t) => t.dedicatedHsm)).toEqual(order[name]);
      for (const t of binding.status?.targets ?? []) {
        expect(t).toMatchObject({ registered: true, pushes: 1, host: await fx.hsmAddress(t.dedicatedHsm), serverCertFingerprint: parseCertificate(sim(t.dedicatedHsm).state.serverCert.certPem).sha256 });
        expect(t.fingerprintOnHsm).toBe(t.expectedFingerprint);
        expect(t.lastDrift).toBeUndefined();
      }
    }
    await waitFor('Registered and OutputSecretWritten events', async () => (await fx.events('app-a', 'Registered')).length === 2 && (await fx.events('app-a', 'OutputSecretWritten')).length === 1);
    expect(await fx.events('app-a', 'DriftDetected')).toEqual([]);
  });

  it('costs nothing in steady state: no state-changing command, no status or Secret write across drift checks', async () => {
    await waitReady(fx, 'app-a');
    await waitReady(fx, 'app-b');
    const rv = async () => [
      (await fx.binding('app-a')).metadata.resourceVersion,
      (await fx.binding('app-b')).metadata.resourceVersion,
      (await fx.secret('app-a-ntls')).metadata.resourceVersion,
      (await fx.secret('app-b-ntls')).metadata.resourceVersion,
      (await fx.secret('app-b-client-cert')).metadata.resourceVersion,
    ];
    const before = await rv();
    const statuses = async () => [(await fx.binding('app-a')).status, (await fx.binding('app-b')).status];
    const statusBefore = await statuses();
    const changing = stateChanging();
    const shows = reads('client show');
    const handshakes = HSMS.reduce((n, h) => n + sim(h).counters.ntlsHandshakes.success, 0);
    // Two bindings x two targets x at least two checks.
    // A check reads the client, then proves the channel with a handshake: wait for both halves of the checks.
    await waitFor(
      'two more drift checks, handshakes included',
      () => reads('client show') >= shows + 8 && HSMS.reduce((n, h) => n + sim(h).counters.ntlsHandshakes.success, 0) >= handshakes + 8,
      30_000,
    );
    expect(stateChanging()).toBe(changing);
    // The statuses first: if this ever fails, the diff says what changed.
    expect(await statuses()).toEqual(statusBefore);
    expect(await rv()).toEqual(before);
  });

  it('observe mode reports drift and never pushes; back in manage mode the drift is repaired', async () => {
    await fx.patchBinding('app-b', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': 'observe' } } });
    await waitFor('observe mode reported', async () => condition(await fx.binding('app-b'), 'Ready')?.reason === 'Observing');
    const changing = stateChanging();
    const driftsBefore = await fx.metric(HSM_METRIC_NAMES.ntlsDrift, { kind: 'registration' });
    sim('hsm1').controls.deleteClient('app-b');
    const drifted = await waitFor('drift reported', async () => {
      const b = await fx.binding('app-b');
      return condition(b, 'InSync')?.reason === 'Drifted' && b;
    });
    expect(condition(drifted, 'Registered')).toMatchObject({ status: 'False', reason: 'Drifted' });
    expect(condition(drifted, 'Ready')).toMatchObject({ status: 'False', reason: 'Drifted' });
    expect(condition(drifted, 'Stalled')?.status).toBe('True');
    expect(drifted.status?.targets?.find((t) => t.dedicatedHsm === 'hsm1')).toMatchObject({ registered: false, lastDrift: { reason: 'NotRegistered' } });
    const shows = reads('client show');
    await waitFor('more drift checks', () => reads('client show') >= shows + 4, 20_000);
    expect(stateChanging()).toBe(changing);
    expect(sim('hsm1').state.clients.has('app-b')).toBe(false);
    // Reported once, not on every check.
    expect(await fx.metric(HSM_METRIC_NAMES.ntlsDrift, { kind: 'registration' })).toBe(driftsBefore + 1);
    expect((await fx.events('app-b', 'DriftDetected')).length).toBe(1);

    await fx.patchBinding('app-b', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': null } } });
    await waitReady(fx, 'app-b');
    expect(sim('hsm1').state.clients.get('app-b')?.partitions).toEqual(['par1']);
  });

  it('paused: nothing is read or written, Ready says Paused', async () => {
    await fx.patchBinding('app-b', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': 'paused' } } });
    const paused = await waitFor('Paused', async () => {
      const b = await fx.binding('app-b');
      return condition(b, 'Ready')?.reason === 'Paused' && b;
    });
    expect(condition(paused, 'Stalled')).toMatchObject({ status: 'True', reason: 'Paused' });
    sim('hsm2').controls.revokePartition('app-b', 'par1');
    const shows = reads('client show');
    await waitFor('app-a checked twice more', () => reads('client show') >= shows + 4, 20_000);
    expect(sim('hsm2').state.clients.get('app-b')?.partitions).toEqual(['par0']);
    await fx.patchBinding('app-b', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': null } } });
    await waitReady(fx, 'app-b');
    expect([...(sim('hsm2').state.clients.get('app-b')?.partitions ?? [])].sort()).toEqual(['par0', 'par1']);
  });

  it('an unknown reconcile mode is refused: InvalidSpec names the valid values, nothing is read or written', async () => {
    // "Observe" is not "observe": the value is compared exactly, as the Argo CD health check compares it.
    await fx.patchBinding('app-b', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': 'Observe' } } });
    const refused = await waitFor('InvalidSpec', async () => {
      const b = await fx.binding('app-b');
      return condition(b, 'Ready')?.reason === 'InvalidSpec' && b;
    });
    expect(condition(refused, 'Ready')).toMatchObject({ status: 'False', message: expect.stringContaining('dedicatedhsm.io/reconcile must be one of manage, observe, paused; got "Observe"') });
    expect(condition(refused, 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    sim('hsm2').controls.revokePartition('app-b', 'par1');
    const shows = reads('client show');
    await waitFor('app-a checked twice more', () => reads('client show') >= shows + 4, 20_000);
    // Not repaired (no write), and not even seen (no read): InSync still says what the last managed pass found.
    expect(sim('hsm2').state.clients.get('app-b')?.partitions).toEqual(['par0']);
    expect(condition(await fx.binding('app-b'), 'InSync')?.status).toBe('True');
    await fx.patchBinding('app-b', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': null } } });
    await waitReady(fx, 'app-b');
    expect([...(sim('hsm2').state.clients.get('app-b')?.partitions ?? [])].sort()).toEqual(['par0', 'par1']);
  });

  it('deleting a binding with deletionPolicy Delete unregisters its client from every HSM and leaves the other binding alone', async () => {
    const changing = HSMS.map((h) => sim(h).counters.commands.byName['client delete'] ?? 0);
    // Orphan (the default) would leave the client registered: this binding asks for the clean-up.
    await fx.patchBinding('app-a', { spec: { deletionPolicy: 'Delete' } });
    await waitReady(fx, 'app-a');
    await fx.deleteBinding('app-a');
    await waitFor('app-a gone', async () => (await fx.bindingIfExists('app-a')) === undefined, 20_000);
    for (const [i, h] of HSMS.entries()) {
      expect(sim(h).state.clients.has('app-a')).toBe(false);
      expect(sim(h).state.clients.has('app-b')).toBe(true);
      expect(sim(h).counters.commands.byName['client delete'] ?? 0).toBe((changing[i] ?? 0) + 1);
    }
    const b: NtlsClientBinding = await waitReady(fx, 'app-b');
    expect(condition(b, 'Ready')?.status).toBe('True');
  });
});
