/**
 * Deleting a DedicatedHsm through the finalize phases, over the in-memory fakes (no API server): Orphan and observe
 * mode release with Azure untouched; Delete needs a zeroized HSM and zeroizes only with the second key (the
 * confirm-zeroize annotation naming the ARM resource exactly), then deletes the resource (never its group). The
 * fake ARM refuses to delete an HSM whose appliance is not zeroized. The behaviours are those of
 * test/integration/controllers/dedicatedhsm/delete.test.ts.
 *
 * Invariant 2 under attack: whoever may edit the object can name their own SSH server in spec.appliance.host and
 * let it answer "zeroized"; zeroization is therefore read, and done, only at the NIC IP Azure reports with the key
 * pinned in spec.appliance.hostKey. And an HSM holding the last live copy of an HA group's key material is not
 * zeroized unless the confirmation accepts that loss in words.
 */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm, HsmHaGroup } from '../../../../src/api/index.js';
import {
  addAppliance,
  azureCallsTotal,
  conditionOf,
  dedicatedHsm,
  deleting,
  eventsOf,
  hsmWrites,
  runFinalize,
  checkedWorlds,
  type HsmOptions,
  type UnitWorld,
} from '../../../support/unit-context.js';
import type { FakeAppliance } from '../../../support/fakes/device-plane.js';
import { ownerTags } from '../../../../src/controllers/dedicatedhsm/ownership.js';

// The phases never write to Kubernetes: every world is checked after each test.
const world = checkedWorlds();

/** A deployed HSM (ARM name `armName`) whose appliance the fake ARM asks before it deletes the resource. */
async function deployed(armName = 'hsm1'): Promise<{ w: UnitWorld; a: FakeAppliance; hsm: (o?: HsmOptions, annotations?: Record<string, string>) => DedicatedHsm }> {
  const w = world();
  const a = await addAppliance(w, 'hsm1');
  const { subscriptionId, resourceGroup, location, subnetId } = w.ids;
  w.azure.addHsm({ subscriptionId, resourceGroup, name: armName, location, subnetId, stampId: 'stamp1', tags: ownerTags(dedicatedHsm(w, 'hsm1')) });
  w.azure.linkAppliance(armName, { isZeroized: () => a.zeroized });
  const hsm = (o: HsmOptions = {}, annotations: Record<string, string> = {}) =>
    deleting(dedicatedHsm(w, 'hsm1', { hostKey: a.hostKey, ...(armName === 'hsm1' ? {} : { armName }), ...o }), annotations);
  return { w, a, hsm };
}

const CONFIRM = 'dedicatedhsm.io/confirm-zeroize';

describe('DedicatedHsm finalize: Azure left alone', () => {
  it('deletionPolicy Orphan: RELEASE with zero Azure calls and no appliance traffic', async () => {
    const { w, a, hsm } = await deployed();
    const r = await runFinalize(w, hsm({ deletionPolicy: 'Orphan' }));
    expect(r.released).toBe(true);
    expect(azureCallsTotal(w)).toBe(0);
    expect(w.azure.requests).toEqual([]);
    expect(a.counters.connections + a.counters.tcpProbes).toBe(0);
    expect(r.events.map((e) => [e.reason, e.action])).toEqual([['Orphaned', 'Delete']]);
    expect(w.azure.hsm('hsm1')?.provisioningState).toBe('Succeeded');
    expect(a.zeroized).toBe(false);
    // It ran: its Event says what it did.
    expect(r.events[0]?.note).toContain('deletionPolicy Orphan');
  });

  it('observe mode with deletionPolicy Delete: RELEASE with zero Azure calls', async () => {
    const { w, a, hsm } = await deployed();
    const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1' }), { mode: 'observe' });
    expect(r.released).toBe(true);
    expect(azureCallsTotal(w)).toBe(0);
    expect(a.counters.connections + a.counters.hsmLogins.failure).toBe(0);
    expect(r.events.map((e) => e.reason)).toEqual(['Orphaned']);
    expect(r.events[0]?.note).toContain('Observe mode');
  });
});

describe('DedicatedHsm finalize: deletionPolicy Delete', () => {
  it('without the confirm annotation: DeletionBlocked with the procedure, zero zeroize commands, zero DELETEs', async () => {
    const { w, a, hsm } = await deployed();
    const r1 = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }));
    expect(r1.released).toBe(false);
    // It looked: the resource, and the appliance asked whether it is zeroized.
    expect(w.azure.calls.getHsm).toBe(1);
    expect(a.counters.commands.byName['hsm show']).toBe(1);
    const blocked = conditionOf(r1.hsm, 'DeletionBlocked');
    expect(blocked).toMatchObject({ status: 'True', reason: 'DeletionBlocked' });
    expect(blocked?.message).toContain(`${CONFIRM}=hsm1`);
    expect(blocked?.message).toMatch(/three times/);
    expect(blocked?.message).toMatch(/irreversible/);
    expect(blocked?.message).toMatch(/NEVER delete the resource group first/);
    expect(conditionOf(r1.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'DeletionBlocked' });
    expect(r1.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'DeletionBlocked']]);
    expect(a.counters.hsmLogins).toEqual({ success: 0, failure: 0 });
    expect(a.counters.commands.byName['hsm login']).toBeUndefined();
    expect(a.soAttemptsLeft).toBe(3);
    expect(w.azure.calls.beginDeleteHsm).toBe(0);
    expect(w.azure.deletes()).toBe(0);
    expect(r1.checkpoints).toEqual([]);

    // Asked again: looked again, still nothing done, the Event not repeated.
    w.clock.advance(r1.outcome?.requeueAfter ?? 0);
    const r2 = await runFinalize(w, r1.hsm);
    expect(w.azure.calls.getHsm).toBe(2);
    expect(a.counters.commands.byName['hsm show']).toBe(2);
    expect(r2.events).toEqual([]);
    expect(a.counters.hsmLogins.failure).toBe(0);
    expect(w.azure.deletes()).toBe(0);
  });

  it('a confirm naming another resource (the object name, or the ARM name in another case) is not the key: no zeroize', async () => {
    const { w, a, hsm } = await deployed('hsm-arm-1');
    for (const [i, confirm] of ['hsm1', 'HSM-ARM-1', 'hsm-arm-1 '].entries()) {
      const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: confirm }));
      expect(r.released, confirm).toBe(false);
      expect(w.azure.calls.getHsm, confirm).toBe(i + 1);
      expect(a.counters.commands.byName['hsm show'], confirm).toBe(i + 1);
      expect(conditionOf(r.hsm, 'DeletionBlocked'), confirm).toMatchObject({ status: 'True', reason: 'DeletionBlocked', message: expect.stringContaining(`${CONFIRM}=hsm-arm-1`) });
      expect(r.checkpoints, confirm).toEqual([]);
    }
    expect(a.counters.hsmLogins.failure).toBe(0);
    expect(a.counters.commands.byName['hsm login']).toBeUndefined();
    expect(a.zeroized).toBe(false);
    expect(w.azure.deletes()).toBe(0);
  });

  it('the confirm naming the ARM resource: exactly one zeroize (3 failed SO logins, on record first), one DELETE, then RELEASE', async () => {
    const { w, a, hsm } = await deployed('hsm-arm-1');
    const r1 = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm-arm-1' }));
    expect(r1.released).toBe(false);

    // Write-ahead: DeletionBlocked=Zeroizing and the Warning Event on record before the first wrong login.
    expect(r1.checkpoints).toHaveLength(1);
    const cp = r1.checkpoints[0];
    expect(cp?.hsmLoginFailures).toBe(0);
    expect(cp?.azureCalls.beginDeleteHsm).toBe(0);
    expect(cp?.status.conditions?.find((c) => c.type === 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'Zeroizing', message: expect.stringContaining('serial 572413') });
    expect(cp?.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'Zeroizing']]);

    // The zeroize: three failed HSM SO logins, verified with hsm show; then one DELETE of the resource, in flight.
    expect(a.counters.hsmLogins).toEqual({ success: 0, failure: 3 });
    expect(a.counters.commands.byName['hsm login']).toBe(3);
    expect(a.zeroized).toBe(true);
    expect(r1.events.map((e) => e.reason)).toEqual(['Zeroizing', 'Zeroized', 'Deleting']);
    for (const e of r1.events) expect(e.note, e.reason).toContain('requester not recorded (no dedicatedhsm.io/deletion-requested-by)');
    expect(hsmWrites(w)).toEqual(['DELETE hsm-arm-1']);
    expect(w.azure.requests.filter((q) => q.method === 'DELETE').map((q) => q.resource)).toEqual([`/subscriptions/${w.ids.subscriptionId}/resourceGroups/${w.ids.resourceGroup}/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs/hsm-arm-1`]);
    expect(r1.hsm.status).toMatchObject({ pendingOperation: { kind: 'delete' }, appliance: { zeroized: true, soAttemptsLeft: 0 } });
    expect(conditionOf(r1.hsm, 'DeletionBlocked')).toMatchObject({ status: 'False', reason: 'Deleting' });
    expect(conditionOf(r1.hsm, 'Ready')?.reason).toBe('Deleting');
    expect(r1.outcome).toEqual({ requeueAfter: 1_000 });

    // The delete is polled to its end (the fake completes it on the second poll); nothing is zeroized or sent again.
    w.clock.advance(r1.outcome?.requeueAfter ?? 0);
    const r2 = await runFinalize(w, r1.hsm);
    expect(w.azure.calls.pollDelete).toBe(1);
    expect(r2.released).toBe(false);
    expect(r2.events).toEqual([]);
    w.clock.advance(r2.outcome?.requeueAfter ?? 0);
    const r3 = await runFinalize(w, r2.hsm);
    expect(w.azure.calls.pollDelete).toBe(2);
    expect(r3.released).toBe(true);
    expect(r3.events.map((e) => e.reason)).toEqual(['Deleted']);
    expect(w.azure.hsm('hsm-arm-1')).toBeUndefined();
    expect(w.azure.deletes()).toBe(1);
    expect(a.counters.hsmLogins.failure).toBe(3);
    expect(eventsOf(w, 'Zeroized')).toHaveLength(1);
  });

  it('a resource already gone: RELEASE after one read, nothing zeroized or deleted', async () => {
    const { w, a, hsm } = await deployed();
    w.azure.deleteOutOfBand('hsm1');
    const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1' }));
    expect(r.released).toBe(true);
    expect(w.azure.calls.getHsm).toBe(1);
    expect(w.azure.deletes()).toBe(0);
    expect(a.counters.connections).toBe(0);
    expect(r.events.map((e) => e.reason)).toEqual(['Deleted']);
  });

  it('a Failed resource (no appliance handed over): deleted without zeroizing', async () => {
    const w = world();
    const a = await addAppliance(w, 'hsm1');
    const { subscriptionId, resourceGroup, location, subnetId } = w.ids;
    w.azure.addHsm({ subscriptionId, resourceGroup, name: 'hsm1', location, subnetId, stampId: 'stamp1', provisioningState: 'Failed', tags: ownerTags(dedicatedHsm(w, 'hsm1')) });
    const r = await runFinalize(w, deleting(dedicatedHsm(w, 'hsm1', { hostKey: a.hostKey, deletionPolicy: 'Delete' })));
    expect(w.azure.calls.getHsm).toBe(1);
    expect(hsmWrites(w)).toEqual(['DELETE hsm1']);
    expect(a.counters.connections + a.counters.hsmLogins.failure).toBe(0);
    expect(r.hsm.status?.pendingOperation?.kind).toBe('delete');
  });
});

const ATTACKER = '10.66.6.6';

/** The object with spec.appliance.host overridden (what anyone who may edit it can do). */
function overridden(h: DedicatedHsm, host: string, hostKey?: string): DedicatedHsm {
  const c = structuredClone(h);
  c.spec.appliance.host = host;
  if (hostKey) c.spec.appliance.hostKey = hostKey;
  return c;
}

describe('DedicatedHsm finalize: zeroization is read only at the NIC IP Azure reports, with the pinned key', () => {
  it('attack: spec.appliance.host names an SSH server that answers "zeroized", under trust-on-first-use: HostKeyNotPinned, zero DELETE, zero zeroize, nothing dialled', async () => {
    const { w, a } = await deployed();
    const evil = await w.device.addAppliance({ host: ATTACKER, serial: '666', zeroized: true, password: a.password });
    const confirms: Record<string, string>[] = [{}, { [CONFIRM]: 'hsm1' }];
    for (const confirm of confirms) {
      const tofu = deleting(dedicatedHsm(w, 'hsm1', { deletionPolicy: 'Delete' }), confirm);
      expect(tofu.spec.appliance.insecureTrustOnFirstUse).toBe(true);
      const r = await runFinalize(w, overridden(tofu, ATTACKER));
      expect(r.released).toBe(false);
      const blocked = conditionOf(r.hsm, 'DeletionBlocked');
      expect(blocked).toMatchObject({ status: 'True', reason: 'HostKeyNotPinned' });
      expect(blocked?.message).toContain('spec.appliance.hostKey');
      expect(blocked?.message).toContain('trust-on-first-use');
      expect(blocked?.message).toContain(w.firstIp);
      expect(blocked?.message).toMatch(/zeroize the HSM yourself/);
      expect(conditionOf(r.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'HostKeyNotPinned' });
      expect(r.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'HostKeyNotPinned']]);
    }
    // It ran: Azure was read twice; nothing else happened anywhere.
    expect(w.azure.calls.getHsm).toBe(2);
    expect(w.azure.calls.beginDeleteHsm).toBe(0);
    expect(w.azure.requests.filter((q) => q.method === 'DELETE')).toEqual([]);
    expect(evil.counters.connections + a.counters.connections).toBe(0);
    expect(evil.counters.hsmLogins.failure + a.counters.hsmLogins.failure).toBe(0);
    expect(a.zeroized).toBe(false);
  });

  it('attack with a pinned key: the override is not dialled; the NIC IP\'s appliance says "not zeroized", so zero DELETE', async () => {
    const { w, a, hsm } = await deployed();
    const evil = await w.device.addAppliance({ host: ATTACKER, serial: '666', zeroized: true, password: a.password });
    // The real appliance's key pinned, the override pointing elsewhere: the real appliance is asked.
    const r1 = await runFinalize(w, overridden(hsm({ deletionPolicy: 'Delete' }), ATTACKER));
    expect(conditionOf(r1.hsm, 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'DeletionBlocked' });
    expect(a.counters.commands.byName['hsm show']).toBe(1);
    // The attacker's own key pinned with its host: the NIC IP answers with another key, so nothing is believed.
    const r2 = await runFinalize(w, overridden(hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1' }), ATTACKER, evil.hostKey));
    expect(conditionOf(r2.hsm, 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'CredentialRejected', message: expect.stringContaining('host key') });
    expect(evil.counters.connections).toBe(0);
    expect(evil.counters.commands.byName['hsm show']).toBeUndefined();
    expect(w.azure.calls.beginDeleteHsm).toBe(0);
    expect(w.azure.deletes()).toBe(0);
    expect(a.counters.hsmLogins.failure + evil.counters.hsmLogins.failure).toBe(0);
    expect(a.zeroized).toBe(false);
  });

  it('with the second key and an override: the zeroize goes to the NIC IP\'s appliance (pinned), never to the override; then one DELETE', async () => {
    const { w, a, hsm } = await deployed();
    const evil = await w.device.addAppliance({ host: ATTACKER, serial: '666', zeroized: false, password: a.password });
    const r = await runFinalize(w, overridden(hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1', 'dedicatedhsm.io/deletion-requested-by': 'alice@example.com' }), ATTACKER));
    expect(a.counters.hsmLogins.failure).toBe(3);
    expect(a.zeroized).toBe(true);
    expect(evil.counters.connections).toBe(0);
    expect(evil.zeroized).toBe(false);
    expect(hsmWrites(w)).toEqual(['DELETE hsm1']);
    // The Events name the confirm annotation and who asked for Delete (from the annotation), nothing secret.
    expect(r.events.map((e) => e.reason)).toEqual(['Zeroizing', 'Zeroized', 'Deleting']);
    for (const e of r.events) {
      expect(e.note, e.reason).toContain('requested by "alice@example.com" (dedicatedhsm.io/deletion-requested-by)');
      expect(e.note, e.reason).toContain(CONFIRM);
      expect(e.note, e.reason).not.toContain(a.password);
    }
    expect(r.events[0]?.note).toContain(`at ${w.firstIp}`);
  });

  it('Azure reports no NIC IP: nothing dialled, DeletionBlocked ApplianceUnreachable, zero DELETE', async () => {
    const w = world();
    const a = await addAppliance(w, 'hsm1');
    const { subscriptionId, resourceGroup, location } = w.ids;
    // Seeded without a subnet of the fake network: no NIC, no IP.
    const h = deleting(dedicatedHsm(w, 'hsm1', { hostKey: a.hostKey, deletionPolicy: 'Delete' }), { [CONFIRM]: 'hsm1' });
    w.azure.addHsm({ subscriptionId, resourceGroup, name: 'hsm1', location, stampId: 'stamp1', tags: ownerTags(h) });
    expect(w.azure.hsm('hsm1')?.privateIpAddress).toBeUndefined();
    const r = await runFinalize(w, overridden(h, w.firstIp));
    expect(conditionOf(r.hsm, 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'ApplianceUnreachable', message: expect.stringContaining('no private IP') });
    expect(w.azure.calls.getHsm).toBe(1);
    expect(a.counters.connections).toBe(0);
    expect(w.azure.calls.beginDeleteHsm).toBe(0);
  });
});

/** An HsmHaGroup with members on `hsms`, as last polled: `states` by DedicatedHsm, `needsSync` as LunaCM said. */
function haGroup(name: string, hsms: string[], states: Record<string, string | undefined>, needsSync: boolean | undefined): HsmHaGroup {
  return {
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'HsmHaGroup',
    metadata: { name, namespace: 'hsm-system', uid: `uid-${name}` },
    spec: {
      label: name,
      members: hsms.map((h) => ({ dedicatedHsmRef: { name: h }, partitionLabel: 'par1' })),
      client: { host: '10.0.9.9', port: 22, username: 'luna', credentialsRef: { name: 'lunacm', key: 'password' }, insecureTrustOnFirstUse: true },
      passwordSecretRef: { name: 'group-password', key: 'password' },
      recovery: { autoRecoveryRetries: 10, autoRecoveryInterval: 60, operatorRecovery: true },
      synchronize: true,
      pollInterval: '30s',
    },
    status: {
      members: hsms.map((h, i) => ({ serial: String(1000 + i), dedicatedHsm: h, ...(states[h] !== undefined ? { state: states[h] } : {}) })),
      ...(needsSync !== undefined ? { needsSync } : {}),
    },
  } as HsmHaGroup;
}

const ACCEPT = 'dedicatedhsm.io/accept-key-material-loss';

describe('DedicatedHsm finalize: the last live copy of an HA group\'s key material', () => {
  it('no other member alive and in sync: LastLiveCopy names the group and the phrase; zero zeroize, zero DELETE', async () => {
    const { w, a, hsm } = await deployed();
    w.haGroups.push(haGroup('payments', ['hsm1', 'hsm2'], { hsm1: 'alive', hsm2: 'down' }, false));
    const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1' }));
    const blocked = conditionOf(r.hsm, 'DeletionBlocked');
    expect(blocked).toMatchObject({ status: 'True', reason: 'LastLiveCopy' });
    expect(blocked?.message).toContain('HsmHaGroup payments');
    expect(blocked?.message).toContain(`${ACCEPT} to exactly "the key material on hsm1 may be lost"`);
    expect(r.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'LastLiveCopy']]);
    // It read the appliance (not zeroized), then stopped.
    expect(a.counters.commands.byName['hsm show']).toBe(1);
    expect(a.counters.hsmLogins.failure).toBe(0);
    expect(r.checkpoints).toEqual([]);
    expect(w.azure.calls.beginDeleteHsm).toBe(0);
  });

  it('a confirmation in other words (or naming another HSM) is not acceptance', async () => {
    const { w, a, hsm } = await deployed();
    w.haGroups.push(haGroup('payments', ['hsm1', 'hsm2'], { hsm1: 'alive', hsm2: 'down' }, false));
    for (const words of ['yes', 'true', 'the key material on hsm2 may be lost', 'The key material on hsm1 may be lost']) {
      const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1', [ACCEPT]: words }));
      expect(conditionOf(r.hsm, 'DeletionBlocked')?.reason, words).toBe('LastLiveCopy');
    }
    expect(a.counters.commands.byName['hsm show']).toBe(4);
    expect(a.counters.hsmLogins.failure).toBe(0);
    expect(w.azure.calls.beginDeleteHsm).toBe(0);
  });

  it('the status cannot tell (needsSync unknown, or no state): assumed the last copy', async () => {
    const { w, a, hsm } = await deployed();
    w.haGroups.push(haGroup('a-unsynced', ['hsm1', 'hsm2'], { hsm1: 'alive', hsm2: 'alive' }, undefined));
    w.haGroups.push(haGroup('b-unpolled', ['hsm1', 'hsm3'], {}, false));
    const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1' }));
    expect(conditionOf(r.hsm, 'DeletionBlocked')).toMatchObject({ reason: 'LastLiveCopy', message: expect.stringContaining('HsmHaGroup a-unsynced, HsmHaGroup b-unpolled') });
    expect(a.counters.hsmLogins.failure).toBe(0);
  });

  it('with the loss accepted in the exact words: zeroized and deleted, the Event says the loss was accepted', async () => {
    const { w, a, hsm } = await deployed();
    w.haGroups.push(haGroup('payments', ['hsm1', 'hsm2'], { hsm1: 'alive', hsm2: 'down' }, false));
    const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1', [ACCEPT]: 'the key material on hsm1 may be lost' }));
    expect(a.counters.hsmLogins.failure).toBe(3);
    expect(a.zeroized).toBe(true);
    expect(hsmWrites(w)).toEqual(['DELETE hsm1']);
    expect(r.events[0]).toMatchObject({ reason: 'Zeroizing', note: expect.stringContaining(`last live copy of the key material of HsmHaGroup payments; ${ACCEPT} accepts that loss`) });
  });

  it('another member alive (or standby) and in sync, or a group of another HSM: zeroized without the acceptance', async () => {
    const { w, a, hsm } = await deployed();
    w.haGroups.push(haGroup('payments', ['hsm1', 'hsm2'], { hsm1: 'alive', hsm2: 'alive' }, false));
    w.haGroups.push(haGroup('cards', ['hsm1', 'hsm3'], { hsm1: 'down', hsm3: 'standby' }, false));
    w.haGroups.push(haGroup('elsewhere', ['hsm4'], { hsm4: 'down' }, true));
    await runFinalize(w, hsm({ deletionPolicy: 'Delete' }, { [CONFIRM]: 'hsm1' }));
    expect(a.counters.hsmLogins.failure).toBe(3);
    expect(hsmWrites(w)).toEqual(['DELETE hsm1']);
  });

  it('already zeroized: nothing left to lose, the resource is deleted', async () => {
    const { w, a, hsm } = await deployed();
    a.zeroized = true;
    w.haGroups.push(haGroup('payments', ['hsm1', 'hsm2'], { hsm2: 'down' }, false));
    const r = await runFinalize(w, hsm({ deletionPolicy: 'Delete' }));
    expect(a.counters.hsmLogins.failure).toBe(0);
    expect(hsmWrites(w)).toEqual(['DELETE hsm1']);
    expect(r.events.map((e) => [e.reason, e.note])).toEqual([['Deleting', expect.stringContaining('the appliance reports it zeroized')]]);
  });
});
