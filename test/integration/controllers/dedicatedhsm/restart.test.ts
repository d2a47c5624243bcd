/**
 * What survives a restart of the operator: a deployment in flight resumes from the token persisted in status (one
 * PUT, one HSM), and a rejected appliance password is not tried again (one failed SSH login in total) until its
 * Secret changes, which recovers without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { WORLD_PASSWORDS } from '../../../../src/sandbox/world.js';
import { waitFor } from '../../../support/wait.js';
import { condition, startScenario, type Scenario } from './fixture.js';

describe('DedicatedHsm: the operator is killed while the deployment runs', () => {
  let sc: Scenario;
  const puts = () => sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs' });

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-resume' });
    sc.world.arm.world.lroNeverFinishes('hsm1');
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('persists the resume token while provisioning', async () => {
    const hsm = await waitFor('a persisted token and provisioningState Provisioning', async () => {
      const h = await sc.get('hsm1');
      return h.status?.pendingOperation?.kind === 'create' && h.status.provisioningState === 'Provisioning' ? h : undefined;
    });
    expect(hsm.status?.pendingOperation?.token).toBeTruthy();
    expect(condition(hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'Provisioning' });
    expect(puts()).toBe(1);
  });

  it('a restarted operator resumes the same operation: one PUT, one HSM', async () => {
    await sc.stopOperator();
    const stoppedAt = Date.now();
    const token = (await sc.get('hsm1')).status?.pendingOperation?.token;
    await sc.startOperator();
    // The new process polls the operation the token names rather than sending anything new.
    await waitFor('the resumed poll', () => sc.world.arm.requests.some((r) => r.time > stoppedAt && r.method === 'GET' && r.path.includes('/operationStatuses/')));
    expect((await sc.get('hsm1')).status?.pendingOperation?.token).toBe(token);
    sc.world.arm.world.lroNeverFinishes('hsm1', false);
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    expect(hsm.status?.pendingOperation).toBeUndefined();
    expect(hsm.status?.attempts).toBe(1);
    expect(puts()).toBe(1);
    expect(sc.world.arm.world.hsmNames()).toEqual(['hsm1']);
    expect(await sc.events('hsm1', 'Adopted')).toEqual([]);
  });
});

describe('DedicatedHsm: a wrong appliance password', () => {
  let sc: Scenario;
  const failedLogins = () => sc.world.appliances.get('hsm1')?.counters.ssh.sshLogins.failure;

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-password', operator: { resyncIntervalMs: 700 } });
    await sc.deploy('hsm1', { password: 'not-the-appliance-password' });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('is tried once: CredentialRejected says to fix the Secret, and re-syncs send nothing', async () => {
    const hsm = await sc.waitFor('hsm1', 'ApplianceReachable', { status: 'False', reason: 'CredentialRejected' });
    expect(condition(hsm, 'Provisioned')?.status).toBe('True');
    expect(condition(hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialRejected' });
    expect(condition(hsm, 'ApplianceReachable')?.message).toMatch(/hsm1-appliance/);
    expect(condition(hsm, 'ApplianceReachable')?.message).toMatch(/Secret/);
    expect(condition(hsm, 'ApplianceReachable')?.message).not.toContain('not-the-appliance-password');
    await waitFor('the rejection persisted in status', async () => ((await sc.get('hsm1')).status?.credentialGuard?.length ?? 0) > 0);
    await sleep(2_500);
    expect(failedLogins()).toBe(1);
  });

  it('a restarted operator does not try it again', async () => {
    await sc.restartOperator();
    await sleep(3_000);
    expect(failedLogins()).toBe(1);
    expect(condition(await sc.get('hsm1'), 'ApplianceReachable')?.reason).toBe('CredentialRejected');
  });

  it('fixing the Secret recovers without a restart', async () => {
    await sc.setPassword('hsm1-appliance', WORLD_PASSWORDS.appliance);
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    expect(hsm.status?.credentialGuard ?? []).toEqual([]);
    expect(failedLogins()).toBe(1);
    expect(sc.world.appliances.get('hsm1')?.counters.ssh.sshLogins.success).toBeGreaterThanOrEqual(1);
  });
});
