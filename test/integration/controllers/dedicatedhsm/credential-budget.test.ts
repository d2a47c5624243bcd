/**
 * The failed-login budget of an appliance (issue #22 item 5): rotating a wrong Secret three times costs three failed
 * SSH logins; the fourth value, even the right one, is not sent, across a restart, until a human sets
 * dedicatedhsm.io/credential-budget-reset. Counted on the appliance simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Annotations } from '../../../../src/api/index.js';
import { WORLD_PASSWORDS } from '../../../../src/sandbox/world.js';
import { waitFor } from '../../../support/wait.js';
import { condition, startScenario, type Scenario } from './fixture.js';

describe('DedicatedHsm: three rotations of a wrong appliance password', () => {
  let sc: Scenario;
  const logins = () => sc.world.appliances.get('hsm1')?.counters.ssh.sshLogins;
  const message = async () => condition(await sc.get('hsm1'), 'ApplianceReachable')?.message ?? '';

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-budget', operator: { resyncIntervalMs: 700 } });
    await sc.deploy('hsm1', { password: 'guess-1' });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('each new wrong value costs one failed login, three in all', async () => {
    await sc.waitFor('hsm1', 'ApplianceReachable', { status: 'False', reason: 'CredentialRejected' });
    expect(logins()).toEqual({ success: 0, failure: 1 });
    for (const [i, pw] of ['guess-2', 'guess-3'].entries()) {
      await sc.setPassword('hsm1-appliance', pw);
      await waitFor(`failed login ${i + 2}`, () => logins()?.failure === i + 2);
    }
    await waitFor('the third rejection in status', async () => ((await sc.get('hsm1')).status?.credentialGuard?.length ?? 0) === 3);
  });

  it('the fourth value, even the right one, is not sent: the budget is spent, also after a restart', async () => {
    await sc.setPassword('hsm1-appliance', WORLD_PASSWORDS.appliance);
    await waitFor('the budget message', async () => (await message()).includes('failed-login budget is spent'));
    const text = await message();
    expect(text).toContain('3 of 3 distinct values rejected in the last 24 h');
    expect(text).toContain(Annotations.credentialBudgetReset);
    expect(text).not.toContain(WORLD_PASSWORDS.appliance);
    expect(logins()).toEqual({ success: 0, failure: 3 });
    await sc.restartOperator();
    const polls = sc.world.arm.requests.length;
    // The new process has read Azure again (a pass ran) and still sends nothing to the appliance.
    await waitFor('a pass of the restarted operator', () => sc.world.arm.requests.length > polls + 2);
    expect((await message())).toContain('failed-login budget is spent');
    expect(logins()).toEqual({ success: 0, failure: 3 });
  });

  it('a human resets the budget: the right value logs in, the rejected ones stay refused', async () => {
    await sc.patch('hsm1', { metadata: { annotations: { [Annotations.credentialBudgetReset]: new Date().toISOString() } } });
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    expect(logins()?.failure).toBe(3);
    expect(logins()?.success).toBeGreaterThanOrEqual(1);
    expect(hsm.status?.credentialGuard ?? []).toEqual([]);
  });
});
