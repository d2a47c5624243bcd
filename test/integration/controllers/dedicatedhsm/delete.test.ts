/**
 * Deleting a DedicatedHsm the way the guide allows: Orphan (the default) leaves Azure alone; Delete needs a
 * zeroized HSM and zeroizes only with the second key (the confirm-zeroize annotation naming the ARM resource);
 * the resource group is never deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../../../support/wait.js';
import { condition, startScenario, type Scenario } from './fixture.js';

const armDeletes = (sc: Scenario) => sc.world.arm.requests.filter((r) => r.method === 'DELETE');

describe('DedicatedHsm delete with deletionPolicy Orphan', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-orphan' });
    await sc.deploy('hsm1');
    await sc.waitFor('hsm1', 'Ready', { status: 'True' });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('removes the finalizer and leaves the Azure resource and the appliance untouched', async () => {
    await sc.remove('hsm1');
    await waitFor('hsm1 gone', async () => (await sc.find('hsm1')) === undefined);
    expect(sc.world.arm.world.hsm('hsm1')?.provisioningState).toBe('Succeeded');
    expect(armDeletes(sc)).toEqual([]);
    const sim = sc.world.appliances.get('hsm1');
    expect(sim?.state.zeroized).toBe(false);
    expect(sim?.counters.hsmLogins).toEqual({ success: 0, failure: 0 });
    expect((await sc.eventsAtLeast('hsm1', 'Orphaned', 1)).length).toBe(1);
  });
});

describe('DedicatedHsm delete with deletionPolicy Delete', () => {
  let sc: Scenario;
  const sim = () => sc.world.appliances.get('hsm1');
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-delete' });
    await sc.deploy('hsm1', { deletionPolicy: 'Delete' });
    await sc.waitFor('hsm1', 'Ready', { status: 'True' });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('without the second key: DeletionBlocked explains the procedure, nothing is zeroized or deleted', async () => {
    await sc.remove('hsm1');
    const hsm = await sc.waitFor('hsm1', 'DeletionBlocked', { status: 'True', reason: 'DeletionBlocked' });
    const msg = condition(hsm, 'DeletionBlocked')?.message ?? '';
    expect(msg).toContain('dedicatedhsm.io/confirm-zeroize=hsm1');
    expect(msg).toMatch(/three/);
    expect(msg).toMatch(/irreversible/);
    expect(msg).toMatch(/NEVER delete the resource group first/);
    expect(condition(hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'DeletionBlocked' });
    expect(hsm.metadata.finalizers).toContain('dedicatedhsm.io/finalizer');
    expect(sim()?.state.soAttemptsLeft).toBe(3);
    expect(sim()?.counters.hsmLogins).toEqual({ success: 0, failure: 0 });
    expect(armDeletes(sc)).toEqual([]);
  });

  it('a confirm-zeroize that does not name the ARM resource exactly is not the key', async () => {
    await sc.patch('hsm1', { metadata: { annotations: { 'dedicatedhsm.io/confirm-zeroize': 'HSM1' } } });
    await sleep(1_500);
    expect(sim()?.state.soAttemptsLeft).toBe(3);
    expect(sim()?.counters.hsmLogins.failure).toBe(0);
    expect(condition(await sc.get('hsm1'), 'DeletionBlocked')?.reason).toBe('DeletionBlocked');
  });

  it('with the key: zeroized, the resource deleted, the finalizer removed; never the resource group', async () => {
    await sc.patch('hsm1', { metadata: { annotations: { 'dedicatedhsm.io/confirm-zeroize': 'hsm1' } } });
    await waitFor('hsm1 gone', async () => (await sc.find('hsm1')) === undefined);
    expect(sim()?.state.zeroized).toBe(true);
    expect(sim()?.counters.hsmLogins.failure).toBe(3);
    expect(sc.world.arm.world.hsmNames()).toEqual([]);
    const deletes = armDeletes(sc);
    expect(deletes.length).toBeGreaterThanOrEqual(1);
    for (const d of deletes) expect(d.path).toMatch(/\/providers\/Microsoft\.HardwareSecurityModules\/dedicatedHSMs\/hsm1$/);
    expect((await sc.eventsAtLeast('hsm1', 'Zeroized', 1)).length).toBe(1);
  });
});
