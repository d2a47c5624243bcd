/**
 * A Secret is a device credential only when it opts in (issue #22 item 5): a DedicatedHsm whose appliance Secret does
 * not name it in `dedicatedhsm.io/credential-for` reports CredentialNotOptedIn with the annotation to add, and the
 * appliance simulator counts no SSH connection at all; naming another object does not count; naming this one works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Annotations } from '../../../../src/api/index.js';
import { WORLD_PASSWORDS } from '../../../../src/sandbox/world.js';
import { adminEndpoint, call } from '../../../support/http.js';
import { waitFor } from '../../../support/wait.js';
import { condition, startScenario, type Scenario } from './fixture.js';

const ep = adminEndpoint();

describe('DedicatedHsm: an appliance Secret that did not opt in', () => {
  let sc: Scenario;
  const ssh = () => sc.world.appliances.get('hsm1')?.counters.ssh;
  const annotate = async (value: string) => {
    const r = await call(ep, 'PATCH', `/api/v1/namespaces/${sc.namespace}/secrets/borrowed`, { metadata: { annotations: { [Annotations.credentialFor]: value } } }, 'application/merge-patch+json');
    expect(r.status).toBe(200);
  };

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-optin', operator: { resyncIntervalMs: 700 } });
    // The right password, in a Secret of the namespace that says nothing about who may send it.
    const r = await call(ep, 'POST', `/api/v1/namespaces/${sc.namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'borrowed' }, type: 'Opaque', stringData: { password: WORLD_PASSWORDS.appliance } });
    expect(r.status).toBe(201);
    await sc.deploy('hsm1', { credentialsSecret: 'borrowed' });
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('is never sent: CredentialNotOptedIn names the Secret and the annotation to add; zero SSH connections', async () => {
    const hsm = await sc.waitFor('hsm1', 'ApplianceReachable', { status: 'False', reason: 'CredentialNotOptedIn' });
    const c = condition(hsm, 'ApplianceReachable');
    expect(c?.message).toContain(`Secret ${sc.namespace}/borrowed is not opted in as a device credential for DedicatedHsm hsm1`);
    expect(c?.message).toContain(`kubectl annotate secret -n ${sc.namespace} borrowed ${Annotations.credentialFor}="DedicatedHsm/hsm1"`);
    expect(c?.message).not.toContain(WORLD_PASSWORDS.appliance);
    expect(condition(hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialNotOptedIn' });
    // Azure was read and the HSM is provisioned: the pass ran up to the appliance, and stopped there.
    expect(condition(hsm, 'Provisioned')?.status).toBe('True');
    expect(ssh()?.connections).toBe(0);
    expect(ssh()?.sshLogins).toEqual({ success: 0, failure: 0 });
  });

  it('an opt-in that names other objects does not count', async () => {
    await annotate('DedicatedHsm/hsm2, HsmHaGroup/hsm1');
    await waitFor('the condition quoting the new annotation', async () => condition(await sc.get('hsm1'), 'ApplianceReachable')?.message?.includes('"DedicatedHsm/hsm2, HsmHaGroup/hsm1"'));
    const c = condition(await sc.get('hsm1'), 'ApplianceReachable');
    expect(c?.reason).toBe('CredentialNotOptedIn');
    expect(c?.message).toContain(`${Annotations.credentialFor}="DedicatedHsm/hsm2, HsmHaGroup/hsm1, DedicatedHsm/hsm1" --overwrite`);
    expect(ssh()?.connections).toBe(0);
  });

  it('naming the DedicatedHsm lets the operator use it (the Secret change re-enqueues it)', async () => {
    await annotate('DedicatedHsm/hsm2, DedicatedHsm/hsm1');
    await sc.waitFor('hsm1', 'ApplianceReachable', { status: 'True' });
    expect(ssh()?.sshLogins.success).toBeGreaterThanOrEqual(1);
    expect(ssh()?.sshLogins.failure).toBe(0);
  });
});
