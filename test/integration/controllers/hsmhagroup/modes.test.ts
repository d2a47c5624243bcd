/**
 * Reconcile modes and client-wide settings: observe reports what it finds without a single state-changing LunaCM
 * command, paused touches nothing at all, and two groups on one client host that ask for different auto recovery
 * settings make the operator set neither (no tug of war) until they agree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../support/wait.js';
import { condition, haGroup, startHaFixture, type HaFixture } from './fixture.js';

describe('HsmHaGroup modes and client-wide settings', () => {
  let fx: HaFixture;

  beforeAll(async () => {
    // hsm2 has a second partition for the second group: a partition is a member of one HA group at most (LunaCM
    // refuses a second addmember with "already part of an HA group").
    fx = await startHaFixture({
      prefix: 'hsmha-modes',
      hsms: [
        { name: 'hsm1', stampId: 'stamp1' },
        { name: 'hsm2', stampId: 'stamp2', partitions: [{ label: 'par0' }, { label: 'par1' }] },
      ],
    });
  }, 120_000);
  afterAll(async () => fx?.stop());

  const counters = () => fx.world.lunacm.counters.commands;

  it('observe mode reports the missing group and settings without changing anything', async () => {
    await fx.apply(haGroup(fx.world, 'watched', { label: 'watchedHA', retries: 7, annotations: { 'dedicatedhsm.io/reconcile': 'observe' } }));
    const g = await waitFor('observed', async () => {
      const g = await fx.getGroup('watched');
      return condition(g, 'Ready')?.reason === 'Observing' && g;
    });
    expect(condition(g, 'Ready')?.status).toBe('True');
    expect(condition(g, 'MembersHealthy')).toMatchObject({ status: 'False', reason: 'ConfiguringGroup' });
    expect(condition(g, 'MembersHealthy')?.message).toContain('observe mode');
    expect(condition(g, 'AutoRecoveryConfigured')).toMatchObject({ status: 'False', reason: 'ConfiguringGroup' });
    expect(counters().stateChanging).toBe(0);
    expect(counters().byName['hagroup listgroups']).toBeGreaterThan(0);
  });

  it('paused touches nothing, not even a read', async () => {
    await fx.patchGroup('watched', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': 'paused' } } });
    const g = await waitFor('paused', async () => {
      const g = await fx.getGroup('watched');
      return condition(g, 'Ready')?.reason === 'Paused' && g;
    });
    expect(condition(g, 'Stalled')?.status).toBe('True');
    const reads = counters().readOnly;
    const rv = g.metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 6_000));
    expect(counters().readOnly).toBe(reads);
    expect(counters().stateChanging).toBe(0);
    expect((await fx.getGroup('watched')).metadata.resourceVersion).toBe(rv);
  });

  it('two groups on one client host with different auto recovery settings: neither is applied until they agree', async () => {
    // The paused group still declares its settings: the new group sees the conflict from its first pass.
    await fx.apply(haGroup(fx.world, 'other', { label: 'otherHA', retries: 3, members: [{ hsm: 'hsm2', partitionLabel: 'par1' }] }));
    await waitFor('the new group sees the conflict', async () => condition(await fx.getGroup('other'), 'AutoRecoveryConfigured')?.reason === 'RecoverySettingsConflict');
    await fx.patchGroup('watched', { metadata: { annotations: { 'dedicatedhsm.io/reconcile': 'manage' } } });
    const [a, b] = await waitFor('both report the conflict', async () => {
      const a = await fx.getGroup('watched');
      const b = await fx.getGroup('other');
      return condition(a, 'AutoRecoveryConfigured')?.reason === 'RecoverySettingsConflict' && condition(b, 'AutoRecoveryConfigured')?.reason === 'RecoverySettingsConflict' && [a, b];
    });
    expect(condition(a, 'AutoRecoveryConfigured')?.message).toContain(`${fx.namespace}/other`);
    expect(condition(b, 'Ready')).toMatchObject({ status: 'False', reason: 'RecoverySettingsConflict' });
    expect(counters().byName['hagroup retry'] ?? 0).toBe(0);
    // The groups themselves were created: only the client-wide settings wait.
    expect(fx.world.lunacm.state.groups.has('watchedHA')).toBe(true);
    expect(fx.world.lunacm.state.groups.has('otherHA')).toBe(true);

    await fx.patchGroup('other', { spec: { recovery: { autoRecoveryRetries: 7 } } });
    await waitFor('both Ready with retry count 7', async () => {
      const [x, y] = [await fx.getGroup('watched'), await fx.getGroup('other')];
      return condition(x, 'Ready')?.status === 'True' && condition(y, 'Ready')?.status === 'True' && fx.world.lunacm.state.retryCount === 7;
    });
    expect(counters().byName['hagroup retry']).toBe(1);
  });
});
