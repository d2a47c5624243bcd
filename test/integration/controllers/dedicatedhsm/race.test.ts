/**
 * The documented deployment race (HSM PUT while networking is not ready): rerun with backoff; after
 * spec.deployment.raceRetries delete the failed resource and redeploy; after redeployAfter rounds stop and say to
 * raise a support request. Each scenario has its own namespace and world.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { condition, startScenario, type Scenario } from './fixture.js';

const puts = (sc: Scenario) => sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs' });
const deletes = (sc: Scenario) => sc.world.arm.count({ method: 'DELETE', pathIncludes: 'dedicatedHSMs' });

async function metric(sc: Scenario, line: RegExp): Promise<number | undefined> {
  const url = sc.operator.manager.metricsUrl;
  if (!url) return undefined;
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').pop()) : undefined;
}

describe('DedicatedHsm: the first two PUTs hit the race', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-race' });
    sc.world.arm.world.failNextPuts(2, 'race');
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('is rerun with backoff and converges', async () => {
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' }, 30_000);
    expect(puts(sc)).toBe(3);
    expect(deletes(sc)).toBe(0);
    expect(hsm.status?.attempts).toBe(3);
    expect(hsm.status?.redeploys ?? 0).toBe(0);
    expect(hsm.status?.lastFailure).toMatchObject({ class: 'DeploymentRace', code: 'NetworkingDependencyNotReady' });
    expect((await sc.events('hsm1', 'DeploymentRace')).length).toBe(2);
    expect((await sc.events('hsm1', 'Deploying')).length).toBe(3);
    expect(await metric(sc, /^hsm_operator_deployment_attempts_total\{class="race"\}/)).toBe(2);
    expect(await metric(sc, /^hsm_operator_deployment_attempts_total\{class="succeeded"\}/)).toBe(1);
    expect(sc.world.arm.world.hsmNames()).toEqual(['hsm1']);
  });
});

describe('DedicatedHsm: the race persists past raceRetries', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-redeploy' });
    // A failed deployment has no appliance handed over: its resource can be deleted without zeroizing.
    sc.world.arm.world.unlinkAppliance('hsm1');
    sc.world.arm.world.failNextPuts(3, 'race');
    await sc.deploy('hsm1', { raceRetries: 1, redeployAfter: 1 });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('deletes the failed resource, redeploys, and converges', async () => {
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' }, 30_000);
    // Round 1: two attempts fail; the failed resource is deleted; round 2: one fails, one succeeds.
    expect(puts(sc)).toBe(4);
    expect(deletes(sc)).toBe(1);
    expect(hsm.status?.redeploys).toBe(1);
    expect(hsm.status?.attempts).toBe(2);
    expect((await sc.eventsAtLeast('hsm1', 'Redeploying', 1)).length).toBe(1);
    expect(sc.world.arm.world.hsmNames()).toEqual(['hsm1']);
  });
});

describe('DedicatedHsm: the race never goes away', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-giveup' });
    sc.world.arm.world.unlinkAppliance('hsm1');
    sc.world.arm.world.failNextPuts(10, 'race');
    await sc.deploy('hsm1', { raceRetries: 1, redeployAfter: 0 });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('stops after the retries and says to raise a support request', async () => {
    const hsm = await sc.waitFor('hsm1', 'Provisioned', { status: 'False', reason: 'DeploymentFailed' }, 30_000);
    expect(condition(hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'DeploymentFailed' });
    expect(condition(hsm, 'Stalled')?.status).toBe('True');
    expect(condition(hsm, 'Ready')?.message).toContain('Issues configuring the Azure setup');
    expect(hsm.status?.lastFailure?.class).toBe('DeploymentFailed');
    const n = puts(sc);
    expect(n).toBe(2);
    await sleep(3_000);
    expect(puts(sc)).toBe(n);
    expect(deletes(sc)).toBe(0);
  });
});
