/**
 * A sample HSM pair converges through the real operator, and then costs nothing: re-syncs read Azure and the
 * appliance but write nothing (no ARM write, no state-changing appliance command, no status write).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { condition, startScenario, type Scenario } from './fixture.js';

describe('DedicatedHsm: a pair converges, then steady state is free', () => {
  let sc: Scenario;

  beforeAll(async () => {
    sc = await startScenario({
      prefix: 'dhsm-converge',
      world: { hsms: [{ name: 'hsm1', stampId: 'stamp1' }, { name: 'hsm2', stampId: 'stamp2', rebootPatchInstalled: false }] },
      operator: { resyncIntervalMs: 2_000 },
    });
    await sc.deploy('hsm1', { stampId: 'stamp1' });
    await sc.deploy('hsm2', { stampId: 'stamp2' });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('hsm1 (stamp1) becomes Ready with IP, versions and reboot patch in status', async () => {
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    const arm = sc.world.arm.world.hsm('hsm1');
    expect(arm?.provisioningState).toBe('Succeeded');
    expect(hsm.status?.resourceId).toBe(arm?.id);
    expect(hsm.status?.provisioningState).toBe('Succeeded');
    expect(hsm.status?.privateIpAddress).toBe(arm?.privateIpAddress);
    expect(hsm.status?.nicId).toBeTruthy();
    const sim = sc.world.appliances.get('hsm1');
    expect(hsm.status?.appliance).toMatchObject({
      softwareVersion: sim?.state.softwareVersion,
      firmwareVersion: '7.0.3',
      serial: sim?.state.serial,
      model: 'Luna K7',
      zeroized: false,
      soAttemptsLeft: 3,
      rebootPatchInstalled: true,
      hostKeyFingerprint: sim?.hostKeyFingerprint,
    });
    expect(hsm.status?.appliance?.ntlsServerCertFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(hsm.status?.appliance?.ntlsServerCertNotAfter).toBeTruthy();
    for (const t of ['SubnetDelegated', 'GatewayReady', 'QuotaAvailable', 'Provisioned', 'ApplianceReachable', 'NtlsReachable', 'RebootPatchInstalled']) {
      expect(condition(hsm, t)?.status, t).toBe('True');
    }
    expect(condition(hsm, 'DeletionBlocked')?.status).toBe('False');
    expect(hsm.metadata.finalizers).toContain('dedicatedhsm.io/finalizer');
    expect(hsm.status?.observedGeneration).toBe(hsm.metadata.generation);
  });

  it('hsm2 (stamp2) is deployed and reachable, but not Ready without the reboot patch, with the guide advice', async () => {
    const hsm = await sc.waitFor('hsm2', 'RebootPatchInstalled', { status: 'False', reason: 'RebootPatchMissing' });
    expect(condition(hsm, 'Provisioned')?.status).toBe('True');
    expect(condition(hsm, 'ApplianceReachable')?.status).toBe('True');
    expect(condition(hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'RebootPatchMissing' });
    expect(condition(hsm, 'Ready')?.message).toMatch(/KB0019789.*before any configuration.*48 hours/);
    expect(hsm.status?.appliance?.rebootPatchInstalled).toBe(false);
    expect(sc.world.arm.world.hsm('hsm2')?.stampId).toBe('stamp2');
  });

  it('installing the patch is noticed on a re-sync: hsm2 becomes Ready', async () => {
    sc.world.appliances.get('hsm2')?.controls.setRebootPatch(true);
    await sc.waitFor('hsm2', 'Ready', { status: 'True' }, 20_000);
  });

  it('kubectl get dhsm shows READY, REASON, PROVISIONING and IP', async () => {
    const t = await sc.table();
    expect(t.columns).toEqual(expect.arrayContaining(['Ready', 'Reason', 'Provisioning', 'IP']));
    const row = t.rows.find((r) => (r.Name ?? r.NAME) === 'hsm1');
    expect(row).toMatchObject({ Ready: 'True', Reason: 'Ready', Provisioning: 'Succeeded', IP: sc.world.arm.world.hsm('hsm1')?.privateIpAddress });
  });

  it('exactly one PUT per HSM, and Events tell the story', async () => {
    expect(sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs/hsm1' })).toBe(1);
    expect(sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs/hsm2' })).toBe(1);
    expect((await sc.eventsAtLeast('hsm1', 'Deploying', 1)).length).toBe(1);
    expect((await sc.eventsAtLeast('hsm1', 'DeploymentSucceeded', 1)).length).toBe(1);
    // Our own deployment is never mistaken for someone else's resource (the cache lagging behind our writes).
    expect(await sc.events('hsm1', 'Adopted')).toEqual([]);
    expect(await sc.events('hsm2', 'Adopted')).toEqual([]);
  });

  it('steady state for several re-sync periods: no ARM write, no state-changing SSH command, no status write', async () => {
    const writes = () => sc.world.arm.requests.filter((r) => r.method !== 'GET').length;
    const sims = ['hsm1', 'hsm2'].map((n) => sc.world.appliances.get(n));
    const before = {
      arm: writes(),
      armGets: sc.world.arm.count({ method: 'GET', pathIncludes: 'dedicatedHSMs/hsm1' }),
      stateChanging: sims.map((s) => s?.counters.commands.stateChanging),
      reads: sims.map((s) => s?.counters.commands.byName['hsm show'] ?? 0),
      rv: [(await sc.get('hsm1')).metadata.resourceVersion, (await sc.get('hsm2')).metadata.resourceVersion],
    };
    await sleep(7_500); // the operator re-syncs every ~2 s: at least 3 periods
    expect(writes()).toBe(before.arm);
    expect(sims.map((s) => s?.counters.commands.stateChanging)).toEqual(before.stateChanging);
    expect(sims.map((s) => s?.counters.hsmLogins.failure)).toEqual([0, 0]);
    // It did look: Azure and the appliances were read on every re-sync.
    expect(sc.world.arm.count({ method: 'GET', pathIncludes: 'dedicatedHSMs/hsm1' }) - before.armGets).toBeGreaterThanOrEqual(3);
    sims.forEach((s, i) => expect((s?.counters.commands.byName['hsm show'] ?? 0) - (before.reads[i] ?? 0)).toBeGreaterThanOrEqual(3));
    expect([(await sc.get('hsm1')).metadata.resourceVersion, (await sc.get('hsm2')).metadata.resourceVersion]).toEqual(before.rv);
  }, 20_000);
});
