/**
 * Adoption, drift and the reconcile modes: an existing HSM of the same name is adopted when the adopt annotation
 * names it (no second PUT; a tags PATCH adds the ownership tags), tags are
 * the one property patched, immutable differences are reported and never "fixed", an HSM deleted out of band is
 * redeployed in manage mode and only reported in observe mode, and paused means no traffic at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../../../support/wait.js';
import { condition, startScenario, type Scenario } from './fixture.js';

/** The seeded HSM carries no ownership tag: it is adopted only because the annotation names it. */
const ADOPT = { 'dedicatedhsm.io/adopt': 'hsm1' };

const writes = (sc: Scenario) => sc.world.arm.requests.filter((r) => r.method !== 'GET' && r.path.includes('dedicatedHSMs')).map((r) => r.method);

function seed(sc: Scenario, stampId: 'stamp1' | 'stamp2' = 'stamp1'): void {
  const { subscriptionId, resourceGroup, location, subnetId } = sc.world.ids;
  sc.world.arm.world.addHsm({ subscriptionId, resourceGroup, name: 'hsm1', location, subnetId, stampId });
}

describe('DedicatedHsm manage mode: adopt, patch tags, redeploy what was deleted out of band', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-adopt' });
    seed(sc);
    await sc.deploy('hsm1', { annotations: ADOPT });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('adopts the existing HSM instead of creating a second one, and tags it as its own', async () => {
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    expect(hsm.status?.resourceId).toBe(sc.world.arm.world.hsm('hsm1')?.id);
    await waitFor('ownership tags in Azure', () => sc.world.arm.world.hsm('hsm1')?.tags['dedicatedhsm.io-owner-uid'] === hsm.metadata.uid);
    expect(sc.world.arm.world.hsm('hsm1')?.tags).toMatchObject({ 'dedicatedhsm.io-owner-namespace': hsm.metadata.namespace, 'dedicatedhsm.io-owner-name': 'hsm1' });
    expect(writes(sc)).toEqual(['PATCH']);
    expect((await sc.eventsAtLeast('hsm1', 'Adopted', 1)).length).toBe(1);
  });

  it('patches tags when the spec changes them, and only tags', async () => {
    await sc.patch('hsm1', { spec: { azure: { tags: { owner: 'platform-team' } } } });
    await waitFor('tags in Azure', () => sc.world.arm.world.hsm('hsm1')?.tags.owner === 'platform-team');
    expect(writes(sc)).toEqual(['PATCH', 'PATCH']);
    await sleep(1_000);
    expect(writes(sc)).toEqual(['PATCH', 'PATCH']);
  });

  it('an HSM deleted out of band is reported and deployed again', async () => {
    sc.world.arm.world.deleteOutOfBand('hsm1');
    await sc.patch('hsm1', { metadata: { annotations: { 'dedicatedhsm.io/resync-now': '1' } } });
    await waitFor('DeletedOutOfBand event', async () => (await sc.events('hsm1', 'DeletedOutOfBand')).length === 1);
    await waitFor('a new HSM', () => sc.world.arm.world.hsm('hsm1')?.provisioningState === 'Succeeded');
    await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    expect(writes(sc)).toEqual(['PATCH', 'PATCH', 'PUT']);
  });
});

describe('DedicatedHsm observe mode', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-observe' });
    seed(sc);
    await sc.deploy('hsm1', { annotations: { 'dedicatedhsm.io/reconcile': 'observe', ...ADOPT } });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('reports the HSM and its appliance without writing anything', async () => {
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True', reason: 'Observing' });
    expect(condition(hsm, 'ApplianceReachable')?.status).toBe('True');
    expect(hsm.status?.appliance?.serial).toBe(sc.world.appliances.get('hsm1')?.state.serial);
    expect(hsm.metadata.finalizers ?? []).toEqual([]);
    expect(writes(sc)).toEqual([]);
    expect(sc.world.appliances.get('hsm1')?.counters.commands.stateChanging).toBe(0);
  });

  it('an HSM deleted out of band is only reported (ResourceMissing), not deployed', async () => {
    sc.world.arm.world.deleteOutOfBand('hsm1');
    await sc.patch('hsm1', { metadata: { annotations: { 'dedicatedhsm.io/resync-now': '1' } } });
    const hsm = await sc.waitFor('hsm1', 'Provisioned', { status: 'False', reason: 'ResourceMissing' });
    expect(condition(hsm, 'Ready')?.reason).toBe('ResourceMissing');
    await sleep(1_000);
    expect(writes(sc)).toEqual([]);
  });
});

describe('DedicatedHsm: immutable drift, then paused', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-drift', operator: { resyncIntervalMs: 700 } });
    seed(sc, 'stamp2');
    await sc.deploy('hsm1', { stampId: 'stamp1', annotations: ADOPT });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('an existing HSM with another stamp is reported (AdoptionConflict), not adopted and not PUT', async () => {
    const hsm = await sc.waitFor('hsm1', 'Provisioned', { status: 'False', reason: 'AdoptionConflict' });
    expect(condition(hsm, 'Provisioned')?.message).toContain('stampId');
    expect(condition(hsm, 'Ready')?.reason).toBe('AdoptionConflict');
    expect(writes(sc)).toEqual([]);
    expect(sc.world.appliances.get('hsm1')?.counters.ssh.connections).toBe(0);
  });

  it('paused: Ready says Paused and no Azure or appliance traffic happens', async () => {
    await sc.patch('hsm1', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': 'paused' } } });
    await sc.waitFor('hsm1', 'Ready', { status: 'False', reason: 'Paused' });
    const before = sc.world.arm.requests.length;
    await sleep(2_000);
    expect(sc.world.arm.requests.length).toBe(before);
  });
});
