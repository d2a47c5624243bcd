/**
 * An HA group across two simulated HSMs through the real operator: the group converges with auto recovery set, a
 * steady group costs no writes, and a member whose appliance went down and came back is recovered by the operator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HSM_METRIC_NAMES } from '../../../../src/observability/hsm-metrics.js';
import { adminEndpoint, call } from '../../../support/http.js';
import { waitFor } from '../../../support/wait.js';
import { condition, haGroup, partitionSerial, startHaFixture, type HaFixture } from './fixture.js';

interface EventLike {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { name?: string };
}

describe('HsmHaGroup across two HSMs', () => {
  let fx: HaFixture;
  let serial1: string;
  let serial2: string;
  const label = 'paymentsHA';

  beforeAll(async () => {
    fx = await startHaFixture({ prefix: 'hsmha-group' });
    serial1 = partitionSerial(fx.world, 'hsm1');
    serial2 = partitionSerial(fx.world, 'hsm2');
  }, 120_000);
  afterAll(async () => fx?.stop());

  const lunacm = () => fx.world.lunacm;
  const commands = (name: string) => lunacm().counters.commands.byName[name] ?? 0;
  const events = async (reason: string): Promise<EventLike[]> => {
    const r = await call(adminEndpoint(), 'GET', `/apis/events.k8s.io/v1/namespaces/${fx.namespace}/events`);
    return ((r.body.items ?? []) as EventLike[]).filter((e) => e.regarding?.name === 'payments' && e.reason === reason);
  };

  it('creates the group with both members and sets the auto recovery retry count and interval', async () => {
    await fx.apply(haGroup(fx.world, 'payments', { label, retries: 5, interval: 120 }));
    const g = await waitFor('the group Ready', async () => {
      const g = await fx.getGroup('payments');
      return condition(g, 'Ready')?.status === 'True' && g;
    });
    const sim = lunacm().state.groups.get(label);
    expect(sim?.members.map((m) => m.serial)).toEqual([serial1, serial2]);
    expect(lunacm().state.retryCount).toBe(5);
    expect(lunacm().state.intervalSeconds).toBe(120);

    expect(g.status?.groupNumber).toBe(`1${serial1}`);
    expect(g.status?.aliveMembers).toBe(2);
    expect(g.status?.members?.map((m) => [m.serial, m.dedicatedHsm, m.label, m.state])).toEqual([
      [serial1, 'hsm1', 'par0', 'alive'],
      [serial2, 'hsm2', 'par0', 'alive'],
    ]);
    expect(condition(g, 'MembersHealthy')).toMatchObject({ status: 'True', reason: 'Healthy' });
    expect(condition(g, 'AutoRecoveryConfigured')).toMatchObject({ status: 'True', reason: 'Configured' });
    expect(condition(g, 'CloningDomainConsistent')).toMatchObject({ status: 'True', reason: 'Consistent' });
    expect(g.status?.observedGeneration).toBe(g.metadata.generation);
    // Each change once; synchronisation was already enabled, so it was left alone.
    expect([commands('hagroup creategroup'), commands('hagroup addmember'), commands('hagroup retry'), commands('hagroup interval'), commands('hagroup synchronize')]).toEqual([1, 1, 1, 1, 0]);
    expect(lunacm().counters.passwordAttempts).toEqual({ success: 2, failure: 0 });
    await waitFor('GroupCreated and AutoRecoveryConfigured events', async () => (await events('GroupCreated')).length === 1 && (await events('AutoRecoveryConfigured')).length === 1);
  });

  it('costs nothing in steady state: no state-changing command and no status write across polls', async () => {
    const before = await fx.getGroup('payments');
    const changing = lunacm().counters.commands.stateChanging;
    const polls = commands('hagroup listgroups');
    await waitFor('two more polls', () => commands('hagroup listgroups') >= polls + 2, 15_000);
    const after = await fx.getGroup('payments');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(lunacm().counters.commands.stateChanging).toBe(changing);
  });

  it('recovers a member whose appliance was down once it answers again, and records the attempt', async () => {
    // Auto recovery off: the operator's hagroup recover is what brings the member back.
    await fx.patchGroup('payments', { spec: { recovery: { autoRecoveryRetries: 0 } } });
    await waitFor('retry count 0 on the client host', () => lunacm().state.retryCount === 0, 15_000);

    const hsm2 = fx.world.appliances.get('hsm2');
    if (!hsm2) throw new Error('no hsm2');
    await hsm2.controls.down();
    const down = await waitFor('member 2 down in status', async () => {
      const g = await fx.getGroup('payments');
      return g.status?.members?.find((m) => m.serial === serial2)?.state === 'down' && g;
    }, 15_000);
    const mh = condition(down, 'MembersHealthy');
    expect(mh).toMatchObject({ status: 'False', reason: 'MemberDown' });
    expect(mh?.message).toContain('hsm2');
    expect(mh?.message).toContain('appliance is unreachable');
    expect(condition(down, 'Ready')).toMatchObject({ status: 'False', reason: 'MemberDown' });

    // While the appliance is down it is reported, not hammered.
    const polls = commands('hagroup listgroups');
    await waitFor('another poll while the appliance is down', () => commands('hagroup listgroups') > polls + 1, 15_000);
    expect(commands('hagroup recover')).toBe(0);

    await hsm2.controls.up();
    const healed = await waitFor('member 2 alive again within a poll interval', async () => {
      const g = await fx.getGroup('payments');
      return g.status?.members?.find((m) => m.serial === serial2)?.state === 'alive' && g;
    }, 5_000 + 3_000);
    expect(commands('hagroup recover')).toBe(1);
    expect(lunacm().counters.manualRecoveries).toBe(1);
    expect(lunacm().counters.autoRecoveries).toBe(0);

    const member = healed.status?.members?.find((m) => m.serial === serial2);
    expect(member?.recoveries).toBe(1);
    expect(member?.lastRecoveryAt).toBeTruthy();
    const attempts = healed.status?.recoveryAttempts ?? [];
    expect(attempts.map((a) => [a.serial, a.outcome.split(':')[0]])).toEqual([
      [serial2, 'Skipped'],
      [serial2, 'Succeeded'],
    ]);
    expect(attempts[0]?.outcome).toContain('appliance unreachable');
    await waitFor('Ready again', async () => condition(await fx.getGroup('payments'), 'Ready')?.status === 'True', 10_000);

    await waitFor('MemberDown and MemberRecovered events', async () => (await events('MemberDown')).length === 1 && (await events('MemberRecovered')).length === 1);
    const text = await fx.operator.manager.metrics.registry.getSingleMetricAsString(HSM_METRIC_NAMES.haRecoveries);
    expect(text).toMatch(/outcome="succeeded"} 1\b/);
    expect(text).toMatch(/outcome="failed"} 0\b/);
    const up = await fx.operator.manager.metrics.registry.getSingleMetricAsString(HSM_METRIC_NAMES.haMemberUp);
    expect(up).toContain(`serial="${serial2}"} 1`);
  });
});
