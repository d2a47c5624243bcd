/**
 * The DedicatedHsm phases once an HSM exists, over the in-memory fakes (no API server): adoption, immutable drift,
 * observe mode, tags, an HSM deleted out of band, and the appliance (read-only lunash over SSH, the credential guard).
 * The behaviours are those of test/integration/controllers/dedicatedhsm/{modes,converge,restart}.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../../src/api/index.js';
import {
  addAppliance,
  conditionOf,
  dedicatedHsm,
  hsmWrites,
  metricValue,
  NAMESPACE,
  runPass,
  checkedWorlds,
  type HsmOptions,
  type UnitWorld,
  type UnitWorldOptions,
} from '../../../support/unit-context.js';
import type { FakeAppliance } from '../../../support/fakes/device-plane.js';
import { ownerTags } from '../../../../src/controllers/dedicatedhsm/ownership.js';

// The phases never write to Kubernetes: every world is checked after each test.
const world = checkedWorlds();

/**
 * An HSM that exists in Azure already (Succeeded, its NIC at the first address) and its appliance; tagged as the
 * DedicatedHsm hsm1's (ownership.ts) unless `owned` is false.
 */
async function existing(
  o: UnitWorldOptions & { stampId?: 'stamp1' | 'stamp2'; tags?: Record<string, string>; owned?: boolean; appliance?: Parameters<typeof addAppliance>[2] } = {},
): Promise<{ w: UnitWorld; a: FakeAppliance; hsm: (h?: HsmOptions) => DedicatedHsm; own: Record<string, string> }> {
  const w = world(o);
  const a = await addAppliance(w, 'hsm1', o.appliance);
  const { subscriptionId, resourceGroup, location, subnetId } = w.ids;
  const own = ownerTags(dedicatedHsm(w, 'hsm1'));
  w.azure.addHsm({ subscriptionId, resourceGroup, name: 'hsm1', location, subnetId, stampId: o.stampId ?? 'stamp1', tags: { ...(o.tags ?? {}), ...(o.owned === false ? {} : own) } });
  return { w, a, hsm: (h = {}) => dedicatedHsm(w, 'hsm1', { hostKey: a.hostKey, ...h }), own };
}

const commands = (w: UnitWorld): Record<string, number> => w.device.counters().commands.byName;

describe('DedicatedHsm phases: an existing HSM', () => {
  it('tagged as ours and not in status yet (a lost PUT response): taken, the Adopted Event, no PUT, the appliance read into status and Ready', async () => {
    const { w, a, hsm } = await existing();
    const r1 = await runPass(w, hsm());
    expect(w.azure.calls.getHsm).toBe(1);
    expect(r1.action?.kind).toBe('none');
    expect(hsmWrites(w)).toEqual([]);
    expect(r1.events.map((e) => e.reason)).toEqual(['Adopted']);
    expect(r1.hsm.status).toMatchObject({
      resourceId: w.azure.hsm('hsm1')?.id,
      provisioningState: 'Succeeded',
      privateIpAddress: w.firstIp,
      nicId: expect.stringContaining('/networkInterfaces/hsm1_HSMnic'),
      appliance: { serial: '572413', softwareVersion: '7.2.0-220', firmwareVersion: '7.0.3', model: 'Luna K7', zeroized: false, soAttemptsLeft: 3, rebootPatchInstalled: true, hostKeyFingerprint: a.hostKey },
    });
    expect(r1.hsm.status?.appliance?.ntlsServerCertFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    for (const t of ['SubnetDelegated', 'GatewayReady', 'QuotaAvailable', 'Provisioned', 'ApplianceReachable', 'NtlsReachable', 'RebootPatchInstalled']) {
      expect(conditionOf(r1.hsm, t)?.status, t).toBe('True');
    }
    expect(conditionOf(r1.hsm, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready' });
    expect(commands(w)).toEqual({ 'hsm show': 1, 'package list': 1, 'scp download': 1 });
    expect(w.device.counters().commands.stateChanging).toBe(0);
    expect(w.device.counters().tcpProbes).toBe(1);
    expect(r1.pass.metrics).toMatchObject({ applianceReachable: true, rebootPatchInstalled: true, provisioningState: 'Succeeded' });

    // The re-sync: read again, nothing written, not adopted a second time, the facts' observedAt unchanged.
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.calls.getHsm).toBe(2);
    expect(commands(w)['hsm show']).toBe(2);
    expect(r2.events).toEqual([]);
    expect(hsmWrites(w)).toEqual([]);
    expect(w.device.counters().commands.stateChanging).toBe(0);
    expect(r2.hsm.status?.appliance?.observedAt).toBe(r1.hsm.status?.appliance?.observedAt);
    expect(r2.hsm.status?.conditions).toEqual(r1.hsm.status?.conditions);
  });

  it('immutable drift (another stamp): AdoptionConflict, not adopted, nothing written to Azure or the appliance', async () => {
    const { w, hsm } = await existing({ stampId: 'stamp2' });
    const r = await runPass(w, hsm({ stampId: 'stamp1', tags: { owner: 'platform-team' } }));
    expect(w.azure.calls.getHsm).toBe(1);
    expect(r.obs?.drift).toEqual(['stampId']);
    expect(r.action?.kind).toBe('none');
    expect(conditionOf(r.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'AdoptionConflict', message: expect.stringContaining('stampId') });
    expect(conditionOf(r.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'AdoptionConflict' });
    expect(r.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'AdoptionConflict']]);
    expect(r.hsm.status?.resourceId).toBeUndefined();
    // No PUT, no tag PATCH, no preflight, no appliance contact at all.
    expect(hsmWrites(w)).toEqual([]);
    expect(w.azure.calls.updateTags + w.azure.calls.beginCreateHsm + w.azure.calls.quotaView).toBe(0);
    expect(w.device.counters().connections + w.device.counters().tcpProbes).toBe(0);
  });

  it('tags differ in manage mode: updateTags, exactly one PATCH, TagsUpdated; the next pass patches nothing', async () => {
    const { w, hsm, own } = await existing({ tags: { owner: 'someone' } });
    const r1 = await runPass(w, hsm({ tags: { owner: 'platform-team', env: 'prod' } }));
    expect(r1.action).toMatchObject({ kind: 'updateTags', tags: { owner: 'platform-team', env: 'prod', ...own } });
    expect(hsmWrites(w)).toEqual(['PATCH hsm1']);
    expect(w.azure.hsm('hsm1')?.tags).toEqual({ owner: 'platform-team', env: 'prod', ...own });
    expect(r1.events.map((e) => e.reason)).toEqual(['Adopted', 'TagsUpdated']);
    expect(r1.outcome).toEqual({ requeueAfter: r1.action?.kind === 'updateTags' ? r1.action.requeueAfter : -1 });

    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.calls.getHsm).toBe(2);
    expect(r2.action?.kind).toBe('none');
    expect(hsmWrites(w)).toEqual(['PATCH hsm1']);
  });

  it('deleted out of band: DeletedOutOfBand, the round and the appliance facts forgotten, deployed again with one PUT', async () => {
    const { w, hsm } = await existing();
    const r1 = await runPass(w, hsm());
    expect(r1.hsm.status?.appliance?.serial).toBe('572413');
    w.azure.deleteOutOfBand('hsm1');

    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(r2.events.map((e) => [e.type, e.reason])).toEqual([
      ['Warning', 'DeletedOutOfBand'],
      ['Normal', 'Deploying'],
    ]);
    expect(r2.events[0]?.note).toContain('It is deployed again.');
    expect(r2.action).toMatchObject({ kind: 'create', failed: undefined });
    expect(hsmWrites(w)).toEqual(['PUT hsm1']);
    expect(r2.hsm.status?.appliance).toBeUndefined();
    expect(r2.hsm.status?.resourceId).toBeUndefined();
    expect(r2.hsm.status).toMatchObject({ attempts: 1, pendingOperation: { kind: 'create' } });

    w.azure.completeOperations();
    w.clock.advance(r2.next ?? 0);
    const r3 = await runPass(w, r2.hsm);
    expect(r3.events.map((e) => e.reason)).toEqual(['DeploymentSucceeded']);
    expect(conditionOf(r3.hsm, 'Ready')?.status).toBe('True');
    expect(hsmWrites(w)).toEqual(['PUT hsm1']);
  });
});

describe('DedicatedHsm phases: observe mode writes nothing to Azure', () => {
  it('a deployed HSM whose tags differ: reported (Ready Observing), no PATCH, no PUT, the appliance only read', async () => {
    const { w, hsm, own } = await existing({ tags: { owner: 'someone' } });
    const r = await runPass(w, hsm({ tags: { owner: 'platform-team' } }), { mode: 'observe' });
    expect(w.azure.calls.getHsm).toBe(1);
    expect(commands(w)['hsm show']).toBe(1);
    expect(r.action?.kind).toBe('none');
    expect(w.azure.calls.updateTags + w.azure.calls.beginCreateHsm + w.azure.calls.beginDeleteHsm).toBe(0);
    expect(hsmWrites(w)).toEqual([]);
    expect(w.azure.hsm('hsm1')?.tags).toEqual({ owner: 'someone', ...own });
    expect(w.device.counters().commands.stateChanging).toBe(0);
    expect(conditionOf(r.hsm, 'Ready')).toMatchObject({ status: 'True', reason: 'Observing' });
    expect(r.pass.logs.map((l) => l.message)).toContain('observe mode: tags differ from the spec; not updated');
  });

  it('a missing HSM: ResourceMissing, the preflight read, nothing deployed', async () => {
    const w = world();
    const r = await runPass(w, dedicatedHsm(w, 'hsm1'), { mode: 'observe' });
    expect(w.azure.calls.getHsm).toBe(1);
    expect(w.azure.calls.quotaView).toBe(1);
    expect(w.azure.calls.getGateway).toBe(1);
    expect(r.action).toMatchObject({ kind: 'none' });
    expect(w.azure.calls.beginCreateHsm).toBe(0);
    expect(hsmWrites(w)).toEqual([]);
    expect(r.checkpoints).toEqual([]);
    expect(conditionOf(r.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'ResourceMissing', message: expect.stringContaining('dedicatedhsm.io/reconcile=manage') });
    expect(conditionOf(r.hsm, 'Ready')?.reason).toBe('ResourceMissing');
  });

  it('an HSM deleted out of band is only reported, not deployed', async () => {
    const { w, hsm } = await existing();
    const r1 = await runPass(w, hsm(), { mode: 'observe' });
    w.azure.deleteOutOfBand('hsm1');
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm, { mode: 'observe' });
    expect(w.azure.calls.getHsm).toBe(2);
    expect(r2.events.map((e) => e.reason)).toEqual(['DeletedOutOfBand']);
    expect(r2.events[0]?.note).toContain('Observe mode: it is only reported.');
    expect(conditionOf(r2.hsm, 'Provisioned')?.reason).toBe('ResourceMissing');
    expect(w.azure.calls.beginCreateHsm).toBe(0);
    expect(hsmWrites(w)).toEqual([]);
  });
});

describe('DedicatedHsm phases: the appliance', () => {
  it('reboot patch missing: RebootPatchInstalled=False with the guide advice, Ready False; installed: noticed on the next pass', async () => {
    const { w, a, hsm } = await existing({ appliance: { rebootPatchInstalled: false } });
    const r1 = await runPass(w, hsm());
    expect(commands(w)).toEqual({ 'hsm show': 1, 'package list': 1, 'scp download': 1 });
    expect(conditionOf(r1.hsm, 'RebootPatchInstalled')).toMatchObject({ status: 'False', reason: 'RebootPatchMissing', message: expect.stringMatching(/KB0019789.*before any configuration.*48 hours/) });
    expect(conditionOf(r1.hsm, 'ApplianceReachable')?.status).toBe('True');
    expect(conditionOf(r1.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'RebootPatchMissing' });
    expect(r1.hsm.status?.appliance?.rebootPatchInstalled).toBe(false);
    expect(await metricValue(w, 'hsm_operator_reboot_patch_installed', { name: 'hsm1' })).toBe(0);
    expect(w.device.counters().commands.stateChanging).toBe(0);

    a.setRebootPatch(true);
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(commands(w)['package list']).toBe(2);
    expect(conditionOf(r2.hsm, 'RebootPatchInstalled')).toMatchObject({ status: 'True', reason: 'PatchInstalled' });
    expect(conditionOf(r2.hsm, 'Ready')?.status).toBe('True');
    expect(await metricValue(w, 'hsm_operator_reboot_patch_installed', { name: 'hsm1' })).toBe(1);
  });

  it('a wrong password: CredentialRejected after one failed login; the next pass sends no login; a fixed Secret recovers', async () => {
    // The one Kubernetes write the phases make themselves: the guard's record, persisted as the login is rejected.
    const { w, a, hsm } = await existing({ recordStatusWrites: true, appliance: { secretPassword: 'not-the-appliance-password' } });
    const r1 = await runPass(w, hsm());
    expect(a.counters.sshLogins).toEqual({ success: 0, failure: 1 });
    const reach = conditionOf(r1.hsm, 'ApplianceReachable');
    expect(reach).toMatchObject({ status: 'False', reason: 'CredentialRejected' });
    expect(reach?.message).toContain(`${NAMESPACE}/hsm1-appliance`);
    expect(reach?.message).not.toContain('not-the-appliance-password');
    expect(conditionOf(r1.hsm, 'Provisioned')?.status).toBe('True');
    expect(conditionOf(r1.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialRejected' });
    expect(r1.hsm.status?.credentialGuard).toHaveLength(1);
    expect(w.statusWrites).toEqual([{ name: 'hsm1', status: expect.objectContaining({ credentialGuard: r1.hsm.status?.credentialGuard }), options: { strategy: 'merge', observedGeneration: false } }]);
    expect(w.managerUses).toEqual([]);

    // Looked at again (Azure read, NTLS probed): the rejected credential is not sent again.
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.calls.getHsm).toBe(2);
    expect(w.device.counters().tcpProbes).toBe(2);
    expect(a.counters.sshLogins).toEqual({ success: 0, failure: 1 });
    expect(a.counters.connections).toBe(0);
    expect(conditionOf(r2.hsm, 'ApplianceReachable')).toMatchObject({ status: 'False', reason: 'CredentialRejected', message: expect.stringContaining('update the Secret') });
    expect(await metricValue(w, 'hsm_operator_credential_refusals_total', { role: 'appliance-ssh' })).toBe(1);
    expect(w.statusWrites).toHaveLength(1);

    // The Secret is fixed: one login, Ready, the guard's record gone from status.
    w.secrets.set(NAMESPACE, 'hsm1-appliance', { password: a.password });
    w.clock.advance(r2.next ?? 0);
    const r3 = await runPass(w, r2.hsm);
    expect(a.counters.sshLogins).toEqual({ success: 1, failure: 1 });
    expect(conditionOf(r3.hsm, 'Ready')?.status).toBe('True');
    expect(r3.hsm.status?.credentialGuard).toBeUndefined();
  });
});
