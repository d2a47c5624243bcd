/**
 * What a human must fix stops fast, says what to do, and is not retried in a loop: quota used up by failed
 * leftovers (named), capacity exhausted, subnet not delegated, subscription not allowlisted. Each scenario has its
 * own namespace and world; each ends with a distinct Ready reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DedicatedHsm } from '../../../../src/api/index.js';
import { condition, startScenario, type Scenario } from './fixture.js';

const puts = (sc: Scenario) => sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs' });
const readyReasons = new Set<string>();

/** No fast retry loop: the PUT count does not move over a few seconds (the operator re-checks only slowly). */
async function expectNoRetryLoop(sc: Scenario, name: string): Promise<void> {
  const n = puts(sc);
  const rv = (await sc.get(name)).metadata.resourceVersion;
  await sleep(2_500);
  expect(puts(sc)).toBe(n);
  expect((await sc.get(name)).metadata.resourceVersion).toBe(rv);
}

function stalled(hsm: DedicatedHsm, reason: string): void {
  expect(condition(hsm, 'Ready')).toMatchObject({ status: 'False', reason });
  expect(condition(hsm, 'Stalled')?.status).toBe('True');
  readyReasons.add(condition(hsm, 'Ready')?.reason ?? '');
}

describe('DedicatedHsm preflight: quota used up by failed leftovers', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-quota' });
    const { subscriptionId, resourceGroup, location, subnetId } = sc.world.ids;
    for (const name of ['old-failed-1', 'old-failed-2']) {
      sc.world.arm.world.addHsm({ subscriptionId, resourceGroup, name, location, subnetId, stampId: 'stamp1', provisioningState: 'Failed' });
    }
    await sc.deploy('hsm1', { stampId: 'stamp1' });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('QuotaAvailable=False names the leftovers and says to delete them; no PUT', async () => {
    const hsm = await sc.waitFor('hsm1', 'QuotaAvailable', { status: 'False', reason: 'QuotaExceeded' });
    const msg = condition(hsm, 'QuotaAvailable')?.message ?? '';
    expect(msg).toContain('old-failed-1');
    expect(msg).toContain('old-failed-2');
    expect(msg).toMatch(/delete/i);
    expect(msg).toMatch(/2 HSMs per stamp and 4 per region/);
    stalled(hsm, 'QuotaExceeded');
    expect(puts(sc)).toBe(0);
    await expectNoRetryLoop(sc, 'hsm1');
  });
});

describe('DedicatedHsm preflight: capacity exhausted', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-capacity' });
    sc.world.arm.world.setCapacity(0);
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('the failed deployment shows CapacityExhausted with the support-ticket advice, and is not retried fast', async () => {
    const hsm = await sc.waitFor('hsm1', 'QuotaAvailable', { status: 'False', reason: 'CapacityExhausted' });
    expect(condition(hsm, 'QuotaAvailable')?.message).toMatch(/support ticket/);
    expect(hsm.status?.lastFailure).toMatchObject({ class: 'CapacityExhausted', code: 'InsufficientCapacity' });
    expect(hsm.status?.attempts).toBe(1);
    stalled(hsm, 'CapacityExhausted');
    expect(puts(sc)).toBe(1);
    await expectNoRetryLoop(sc, 'hsm1');
  });
});

describe('DedicatedHsm preflight: subnet not delegated', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-delegation' });
    sc.world.arm.world.setSubnetDelegated(sc.world.ids.subnetId, false);
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('SubnetDelegated=False says to delegate the subnet; no PUT', async () => {
    const hsm = await sc.waitFor('hsm1', 'SubnetDelegated', { status: 'False', reason: 'SubnetNotDelegated' });
    expect(condition(hsm, 'SubnetDelegated')?.message).toMatch(/Microsoft\.HardwareSecurityModules\/dedicatedHSMs.*number one reason/);
    stalled(hsm, 'SubnetNotDelegated');
    expect(puts(sc)).toBe(0);
    await expectNoRetryLoop(sc, 'hsm1');
  });

  it('delegating the subnet and asking for a resync deploys it', async () => {
    sc.world.arm.world.setSubnetDelegated(sc.world.ids.subnetId, true);
    await sc.patch('hsm1', { metadata: { annotations: { 'dedicatedhsm.io/resync-now': 'fixed' } } });
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    // The request is recorded, not removed: the annotation is the user's (or their GitOps tool's).
    expect(hsm.metadata.annotations?.['dedicatedhsm.io/resync-now']).toBe('fixed');
    expect(hsm.status?.lastHandledResyncAt).toBe('fixed');
    expect((await sc.events('hsm1', 'ResyncRequested')).length).toBe(1);
    expect(puts(sc)).toBe(1);
  });
});

describe('DedicatedHsm preflight: subscription not allowlisted', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-allowlist' });
    sc.world.arm.world.unregisterFeature('Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM');
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('Provisioned=False NotAllowlisted says to contact the Microsoft account manager; no PUT', async () => {
    const hsm = await sc.waitFor('hsm1', 'Provisioned', { status: 'False', reason: 'NotAllowlisted' });
    const msg = condition(hsm, 'Provisioned')?.message ?? '';
    expect(msg).toContain('Microsoft.HardwareSecurityModules/AzureDedicatedHSM');
    expect(msg).toMatch(/Microsoft account manager/);
    stalled(hsm, 'NotAllowlisted');
    expect(puts(sc)).toBe(0);
    await expectNoRetryLoop(sc, 'hsm1');
  });

  it('each scenario ended with its own Ready reason', () => {
    expect([...readyReasons].sort()).toEqual(['CapacityExhausted', 'NotAllowlisted', 'QuotaExceeded', 'SubnetNotDelegated']);
  });
});
