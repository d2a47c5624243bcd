/**
 * Deleting a DedicatedHsm through the finalize phases, over the in-memory fakes (no API server): Orphan and observe
 * mode release with Azure untouched; Delete needs a zeroized HSM and zeroizes only with the second key (the
 * confirm-zeroize annotation naming the ARM resource exactly), then deletes the resource (never its group). The
 * fake ARM refuses to delete an HSM whose appliance is not zeroized. The behaviours are those of
 * test/integration/controllers/dedicatedhsm/delete.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../../src/api/index.js';
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
