/**
 * A member that hagroup recover cannot bring back (its appliance answers, but its partition is gone) trips the
 * circuit breaker after maxAttemptsPerWindow failed attempts: no further recover commands, Ready=False
 * RecoveryCircuitOpen asking a human. A human's dedicatedhsm.io/recover-now then runs one attempt per value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimPartition } from '../../../../src/sandbox/luna/appliance-state.js';
import { adminEndpoint, call } from '../../../support/http.js';
import { waitFor } from '../../../support/wait.js';
import { condition, haGroup, partitionSerial, startHaFixture, type HaFixture } from './fixture.js';

describe('HsmHaGroup recovery circuit breaker', () => {
  let fx: HaFixture;
  let serial2: string;
  const label = 'breakerHA';

  beforeAll(async () => {
    fx = await startHaFixture({ prefix: 'hsmha-breaker' });
    serial2 = partitionSerial(fx.world, 'hsm2');
  }, 120_000);
  afterAll(async () => fx?.stop());

  const recovers = () => fx.world.lunacm.counters.commands.byName['hagroup recover'] ?? 0;
  const polls = () => fx.world.lunacm.counters.commands.byName['hagroup listgroups'] ?? 0;
  let removed: SimPartition[] = [];

  it('stops after maxAttemptsPerWindow failed recoveries and says a human must look', async () => {
    await fx.apply(haGroup(fx.world, 'breaker', { label, retries: 0, maxAttemptsPerWindow: 2, window: '1m' }));
    await waitFor('the group Ready', async () => condition(await fx.getGroup('breaker'), 'Ready')?.status === 'True');

    // The partition disappears from a reachable appliance: LunaCM shows the member down and cannot recover it.
    const partitions = fx.world.appliances.get('hsm2')?.state.partitions ?? [];
    removed = partitions.splice(0, partitions.length);
    const open = await waitFor(
      'RecoveryCircuitOpen',
      async () => {
        const g = await fx.getGroup('breaker');
        return condition(g, 'Ready')?.reason === 'RecoveryCircuitOpen' && g;
      },
      30_000,
    );
    expect(recovers()).toBe(2);
    expect(condition(open, 'Ready')?.status).toBe('False');
    expect(condition(open, 'Stalled')?.status).toBe('True');
    const message = condition(open, 'MembersHealthy')?.message ?? '';
    expect(message).toContain(serial2);
    expect(message).toContain('dedicatedhsm.io/recover-now');
    const member = open.status?.members?.find((m) => m.serial === serial2);
    expect(member).toMatchObject({ state: 'down', failedRecoveries: 2 });
    const outcomes = (open.status?.recoveryAttempts ?? []).map((a) => a.outcome.split(':')[0]);
    expect(outcomes.filter((o) => o === 'Failed')).toHaveLength(2);

    // Several more poll intervals: LunaCM is still polled, but no recover command is sent.
    const from = polls();
    await waitFor('three more polls', () => polls() >= from + 3, 25_000);
    expect(recovers()).toBe(2);
    const r = await call(adminEndpoint(), 'GET', `/apis/events.k8s.io/v1/namespaces/${fx.namespace}/events`);
    const reasons = ((r.body.items ?? []) as { reason?: string }[]).map((e) => e.reason);
    expect(reasons).toContain('RecoveryCircuitOpen');
    expect(reasons).toContain('RecoveryFailed');
  });

  it('runs exactly one attempt when a human sets recover-now, records the value and leaves the annotation', async () => {
    fx.world.appliances.get('hsm2')?.state.partitions.push(...removed);
    await fx.patchGroup('breaker', { metadata: { annotations: { 'dedicatedhsm.io/recover-now': 'fixed the partition' } } });
    const healed = await waitFor('member alive after recover-now', async () => {
      const g = await fx.getGroup('breaker');
      return g.status?.members?.find((m) => m.serial === serial2)?.state === 'alive' && g;
    }, 15_000);
    // Not asserted: the member's `recoveries` counter. Under load the recover-now attempt is sometimes missing from
    // status.recoveryAttempts although the command ran (a known bug, see the closing note of issue 9); the command
    // count below is what the safety promise rests on.
    expect(recovers()).toBe(3);
    expect(healed.metadata.annotations?.['dedicatedhsm.io/recover-now']).toBe('fixed the partition');
    expect(healed.status?.lastHandledRecoverAt).toBe('fixed the partition');
    await waitFor('Ready again', async () => condition(await fx.getGroup('breaker'), 'Ready')?.status === 'True', 15_000);
    // The annotation stays (a GitOps tool may keep applying it): more polls, no second attempt for the same value.
    const from = polls();
    await waitFor('two more polls', () => polls() >= from + 2, 25_000);
    expect(recovers()).toBe(3);
  });
});
