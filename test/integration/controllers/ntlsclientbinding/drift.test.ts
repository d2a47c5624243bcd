/**
 * The guide's "NTLS Certificates out of sync", injected in the appliance simulators and repaired by the real
 * operator within a drift check (2s here): a deleted client, a client re-registered with another certificate, a
 * revoked partition, a regenerated server certificate, a rotated client certificate, and the repush-now trigger (once per value).
 * Each repair is an Event, a metric and a re-push, and a mutual-TLS handshake proves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HSM_METRIC_NAMES } from '../../../../src/observability/hsm-metrics.js';
import { parseCertificate } from '../../../../src/pki/index.js';
import { waitFor } from '../../../support/wait.js';
import { clientCertificate, condition, ntlsBinding, startBindingFixture, waitReady, type BindingFixture } from './fixture.js';

const HSMS = ['hsm1', 'hsm2'];
const NAME = 'payments';
const HOST = 'payments.example.internal';
// A repair is one drift check (2 s here) and one pass; on a loaded CI run (four files at once) a pass with its two
// targets' handshakes took longer than 15 s, so the window is the suite's usual 30 s.
const REPAIR_MS = 30_000;

describe('NtlsClientBinding drift repair', () => {
  let fx: BindingFixture;

  beforeAll(async () => {
    fx = await startBindingFixture({
      prefix: 'ntlsb-drift',
      hsms: HSMS.map((name, i) => ({ name, stampId: i ? 'stamp2' : 'stamp1', partitions: [{ label: 'par0' }, { label: 'par1' }] })),
      settings: { ntlsTimeoutMs: 10_000 },
      compressedTime: { ntlsSpecScale: 1 / 15 },
    });
    await fx.putTlsSecret('payments-tls', await clientCertificate(HOST));
    await fx.apply(
      ntlsBinding(NAME, {
        hostname: HOST,
        secretRef: 'payments-tls',
        targets: [
          { hsm: 'hsm1', partitions: ['par0'] },
          { hsm: 'hsm2', partitions: ['par0', 'par1'] },
        ],
        driftCheckInterval: '30s',
      }),
    );
    await waitReady(fx, NAME);
  }, 120_000);
  afterAll(async () => fx?.stop());

  const sim = (name: string) => {
    const s = fx.world.appliances.get(name);
    if (!s) throw new Error(`no appliance ${name}`);
    return s;
  };
  const target = async (hsm: string) => (await fx.binding(NAME)).status?.targets?.find((t) => t.dedicatedHsm === hsm);
  const currentCert = async () => parseCertificate((await fx.secretData('payments-tls'))['tls.crt'] ?? '');
  const onHsm = (hsm: string) => sim(hsm).state.clients.get(NAME);
  const repushes = () => fx.metric(HSM_METRIC_NAMES.ntlsRepush, { outcome: 'succeeded' });

  /** Injects a drift, waits for the repair, and checks what the operator says about it. */
  async function repaired(hsm: string, kind: string, reason: string, inject: () => void | Promise<void>, fixed: () => boolean | Promise<boolean>): Promise<void> {
    const drifts = await fx.metric(HSM_METRIC_NAMES.ntlsDrift, { kind });
    const pushes = (await target(hsm))?.pushes ?? 0;
    await inject();
    await waitFor(`${reason} on ${hsm} repaired`, async () => (await fixed()) && ((await target(hsm))?.lastDrift?.reason === reason ? true : false), REPAIR_MS, 100);
    const b = await waitReady(fx, NAME, REPAIR_MS);
    expect(await fx.metric(HSM_METRIC_NAMES.ntlsDrift, { kind })).toBeGreaterThanOrEqual(drifts + 1);
    const t = b.status?.targets?.find((x) => x.dedicatedHsm === hsm);
    if (kind !== 'serverCert') expect(t?.pushes).toBe(pushes + 1);
    expect(t?.fingerprintOnHsm).toBe(t?.expectedFingerprint);
    await waitFor(`a DriftDetected event about ${hsm}`, async () => (await fx.events(NAME, 'DriftDetected')).some((e) => e.note?.startsWith(`${hsm}:`)), 10_000);
  }

  it('re-registers a client deleted on the HSM', async () => {
    const before = await repushes();
    await repaired(
      'hsm1',
      'registration',
      'NotRegistered',
      () => sim('hsm1').controls.deleteClient(NAME),
      () => onHsm('hsm1')?.partitions.join() === 'par0',
    );
    expect(await repushes()).toBe(before + 1);
    await waitFor('a Repushed event', async () => (await fx.events(NAME, 'Repushed')).length > 0, 10_000);
  });

  it('replaces a registration that holds another certificate (delete + register)', async () => {
    const stranger = await clientCertificate('someone-else');
    const ours = await currentCert();
    const deletes = sim('hsm2').counters.commands.byName['client delete'] ?? 0;
    await repaired(
      'hsm2',
      'clientCert',
      'FingerprintMismatch',
      () => {
        sim('hsm2').controls.deleteClient(NAME);
        sim('hsm2').controls.registerClient(NAME, { hostname: HOST }, stranger.certPem, ['par0', 'par1']);
      },
      () => onHsm('hsm2')?.certDer.equals(ours.der) === true,
    );
    expect(sim('hsm2').counters.commands.byName['client delete']).toBe(deletes + 1);
    expect([...(onHsm('hsm2')?.partitions ?? [])].sort()).toEqual(['par0', 'par1']);
  });

  it('assigns a revoked partition again', async () => {
    const registers = sim('hsm2').counters.commands.byName['client register'] ?? 0;
    await repaired(
      'hsm2',
      'partitions',
      'PartitionMissing',
      () => sim('hsm2').controls.revokePartition(NAME, 'par1'),
      () => onHsm('hsm2')?.partitions.includes('par1') === true,
    );
    // Only the partition was re-assigned: the registration was left alone.
    expect(sim('hsm2').counters.commands.byName['client register']).toBe(registers);
  });

  it('hands out the new server.pem after sysconf regenCert and proves it with a handshake', async () => {
    const old = (await fx.secretData(`${NAME}-ntls`))['hsm2.pem'];
    const registers = sim('hsm2').counters.commands.byName['client register'] ?? 0;
    await repaired(
      'hsm2',
      'serverCert',
      'ServerCertChanged',
      () => sim('hsm2').controls.regenCert(),
      async () => (await fx.secretData(`${NAME}-ntls`))['hsm2.pem'] === sim('hsm2').state.serverCert.certPem,
    );
    const data = await fx.secretData(`${NAME}-ntls`);
    expect(data['hsm2.pem']).not.toBe(old);
    expect(data['CAFile.pem']).toBe(sim('hsm1').state.serverCert.certPem + sim('hsm2').state.serverCert.certPem);
    expect((await target('hsm2'))?.serverCertFingerprint).toBe(parseCertificate(sim('hsm2').state.serverCert.certPem).sha256);
    expect(condition(await fx.binding(NAME), 'InSync')?.status).toBe('True');
    expect(sim('hsm2').counters.commands.byName['client register']).toBe(registers);
    await waitFor('an OutputSecretUpdated event naming hsm2.pem', async () => (await fx.events(NAME, 'OutputSecretUpdated')).some((e) => e.note?.includes('hsm2.pem')), 10_000);
  });

  it('pushes a client certificate rotated in its Secret (cert-manager renewal) to every HSM', async () => {
    const next = await clientCertificate(HOST);
    const fp = parseCertificate(next.certPem);
    await fx.putTlsSecret('payments-tls', next);
    await waitFor(
      'the new certificate on both HSMs and in the output Secret',
      async () => HSMS.every((h) => onHsm(h)?.certDer.equals(fp.der)) && (await fx.secretData(`${NAME}-ntls`))['ClientCert.pem'] === next.certPem,
      REPAIR_MS,
      100,
    );
    // The devices and the output Secret change before the pass writes its status: wait for the status of that pass.
    const b = await waitFor('the repair reported in status', async () => {
      const r = await waitReady(fx, NAME, REPAIR_MS);
      return r.status?.certificate?.fingerprint === fp.sha256 ? r : undefined;
    }, REPAIR_MS);
    for (const t of b.status?.targets ?? []) expect(t.lastDrift?.reason).toBe('FingerprintMismatch');
    expect(onHsm('hsm1')?.partitions).toEqual(['par0']);
    expect([...(onHsm('hsm2')?.partitions ?? [])].sort()).toEqual(['par0', 'par1']);
  });

  it('re-pushes everywhere once per dedicatedhsm.io/repush-now value, recorded in status, the annotation left as set', async () => {
    // Start from a reported steady state: the last repair's push counts are in status.
    const fp = (await currentCert()).sha256;
    const before = await waitFor('the last push reported', async () => {
      const b = await fx.binding(NAME);
      return b.status?.certificate?.fingerprint === fp && (b.status?.targets ?? []).every((t) => t.fingerprintOnHsm === t.expectedFingerprint) && b;
    });
    const pushes = Object.fromEntries((before.status?.targets ?? []).map((t) => [t.dedicatedHsm, t.pushes ?? 0]));
    const repushed = await repushes();
    await fx.patchBinding(NAME, { metadata: { annotations: { 'dedicatedhsm.io/repush-now': 'yes' } } });
    const b = await waitFor(
      'both targets pushed again',
      async () => {
        const b = await fx.binding(NAME);
        return b.status?.lastHandledRepushAt === 'yes' && (b.status?.targets ?? []).every((t) => (t.pushes ?? 0) === (pushes[t.dedicatedHsm] ?? 0) + 1) && b;
      },
      REPAIR_MS,
    );
    expect(b.metadata.annotations?.['dedicatedhsm.io/repush-now']).toBe('yes');
    expect(b.status?.lastHandledRepushAt).toBe('yes');
    expect(await repushes()).toBe(repushed + 2);
    const after = await waitReady(fx, NAME);
    expect(after.status?.targets?.map((t) => t.pushes)).toEqual(b.status?.targets?.map((t) => t.pushes));
    expect(after.status?.lastHandledRepushAt).toBe('yes');
    expect((await fx.events(NAME, 'RepushRequested')).length).toBe(1);
  });

  it('a slow HSM does not hold up the repair of a binding on another HSM', async () => {
    await fx.apply(ntlsBinding('fast', { targets: [{ hsm: 'hsm1', partitions: ['par1'] }], driftCheckInterval: '30s' }));
    await waitReady(fx, 'fast');
    const slow = sim('hsm2');
    try {
      // Every `client show` on hsm2 now takes 8 s: the payments binding's passes hang there.
      slow.controls.setLatency(8_000, 'client show');
      const inFlight = async () => {
        await waitFor('a command in flight on hsm2', () => slow.counters.ssh.openChannels > 0, 10_000, 20);
        await new Promise((r) => setTimeout(r, 300));
        return slow.counters.ssh.openChannels > 0;
      };
      await waitFor('the payments pass stuck on hsm2', inFlight, 15_000, 0);
      sim('hsm1').controls.deleteClient('fast');
      await waitFor('fast re-registered on hsm1 while hsm2 is slow', () => sim('hsm1').state.clients.get('fast')?.partitions.join() === 'par1', 6_000, 50);
      expect(slow.counters.ssh.openChannels).toBeGreaterThan(0);
    } finally {
      slow.controls.setLatency(0, 'client show');
    }
    await waitReady(fx, NAME, REPAIR_MS);
  });
});
