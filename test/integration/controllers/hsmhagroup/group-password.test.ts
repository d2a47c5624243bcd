/**
 * A wrong group (partition Crypto Officer) password is sent to LunaCM exactly once: not again on later polls, spec
 * changes or after an operator restart (the guard record lives in the group's status), and only a changed Secret
 * is tried. The password never appears in status or Events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORLD_PASSWORDS } from '../../../../src/sandbox/world.js';
import { adminEndpoint, call } from '../../../support/http.js';
import { waitFor } from '../../../support/wait.js';
import { condition, haGroup, startHaFixture, type HaFixture } from './fixture.js';

const WRONG = 'not-the-partition-password';

describe('HsmHaGroup with a wrong group password', () => {
  let fx: HaFixture;
  const label = 'pwHA';

  beforeAll(async () => {
    fx = await startHaFixture({ prefix: 'hsmha-password' });
    await fx.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'wrong-password', annotations: { 'dedicatedhsm.io/credential-for': 'HsmHaGroup/*' } }, type: 'Opaque', stringData: { password: WRONG } });
  }, 120_000);
  afterAll(async () => fx?.stop());

  const attempts = () => fx.world.lunacm.counters.passwordAttempts;
  const polls = () => fx.world.lunacm.counters.commands.byName['hagroup listgroups'] ?? 0;

  it('uses the rejected password once and reports CredentialRejected with the guard record in status', async () => {
    await fx.apply(haGroup(fx.world, 'pw', { label, passwordSecret: 'wrong-password' }));
    const g = await waitFor('CredentialRejected', async () => {
      const g = await fx.getGroup('pw');
      return condition(g, 'MembersHealthy')?.reason === 'CredentialRejected' && g;
    });
    expect(attempts()).toEqual({ success: 0, failure: 1 });
    expect(condition(g, 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialRejected' });
    expect(condition(g, 'Stalled')?.status).toBe('True');
    expect(g.status?.credentialGuard?.map((r) => r.role)).toEqual(['hagroup-password']);
    expect(fx.world.lunacm.state.groups.has(label)).toBe(false);
  });

  it('does not use it again on later polls, a spec change, or after an operator restart', async () => {
    let from = polls();
    await waitFor('two more polls', () => polls() >= from + 2, 15_000);
    await fx.patchGroup('pw', { spec: { pollInterval: '6s' } });
    await waitFor('the new generation observed', async () => {
      const g = await fx.getGroup('pw');
      return g.status?.observedGeneration === g.metadata.generation;
    });
    expect(attempts().failure).toBe(1);

    await fx.restartOperator();
    from = polls();
    await waitFor('two polls by the new operator', () => polls() >= from + 2, 20_000);
    const g = await fx.getGroup('pw');
    expect(condition(g, 'MembersHealthy')?.reason).toBe('CredentialRejected');
    expect(attempts()).toEqual({ success: 0, failure: 1 });

    const text = JSON.stringify(g);
    const events = await call(adminEndpoint(), 'GET', `/apis/events.k8s.io/v1/namespaces/${fx.namespace}/events`);
    expect(text).not.toContain(WRONG);
    expect(events.text).not.toContain(WRONG);
    expect(events.text).toContain('CredentialRejected');
  });

  it('tries again once the Secret changes, and clears the record on success', async () => {
    await fx.setSecret('wrong-password', WORLD_PASSWORDS.partition);
    const g = await waitFor('Ready with the corrected password', async () => {
      const g = await fx.getGroup('pw');
      return condition(g, 'Ready')?.status === 'True' && g;
    });
    expect(attempts()).toEqual({ success: 2, failure: 1 });
    expect(g.status?.credentialGuard).toBeUndefined();
    expect(fx.world.lunacm.state.groups.get(label)?.members).toHaveLength(2);
  });

  it('a group password Secret that did not opt in is never typed: CredentialNotOptedIn names the annotation to add', async () => {
    await fx.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'not-opted-in' }, type: 'Opaque', stringData: { password: WORLD_PASSWORDS.partition } });
    const before = { prompts: fx.world.lunacm.counters.groupPassword.prompted, attempts: { ...attempts() } };
    await fx.apply(haGroup(fx.world, 'optin', { label: 'optinHA', passwordSecret: 'not-opted-in', members: [{ hsm: 'hsm1', partitionLabel: 'par0' }] }));
    const g = await waitFor('CredentialNotOptedIn', async () => {
      const g = await fx.getGroup('optin');
      return condition(g, 'MembersHealthy')?.reason === 'CredentialNotOptedIn' && g;
    });
    expect(condition(g, 'MembersHealthy')?.message).toContain(`annotate secret -n ${fx.namespace} not-opted-in dedicatedhsm.io/credential-for="HsmHaGroup/optin"`);
    expect(condition(g, 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialNotOptedIn' });
    // The pass ran (the client host was polled with its own, opted-in SSH Secret) and typed no group password.
    expect(fx.world.lunacm.counters.groupPassword.prompted).toBe(before.prompts);
    expect(attempts()).toEqual(before.attempts);
    expect(fx.world.lunacm.state.groups.has('optinHA')).toBe(false);
    expect(JSON.stringify(g)).not.toContain(WORLD_PASSWORDS.partition);
  });
});
