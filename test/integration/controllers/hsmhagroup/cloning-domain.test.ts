/**
 * Members whose partitions have different cloning domains: LunaCM's "Synchronize may fail ... conflicting settings
 * for private key cloning" warning becomes CloningDomainConsistent=False naming the members and the documented fix,
 * synchronize is not run in a loop, and applying the fix (add a partition with the right domain, drop the wrong one)
 * clears it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../support/wait.js';
import { condition, haGroup, partitionSerial, startHaFixture, type HaFixture } from './fixture.js';

describe('HsmHaGroup with mismatched cloning domains', () => {
  let fx: HaFixture;
  const label = 'cloningHA';

  beforeAll(async () => {
    fx = await startHaFixture({
      prefix: 'hsmha-cloning',
      hsms: [
        { name: 'hsm1', stampId: 'stamp1', partitions: [{ label: 'par0', cloningDomain: 'domain-a' }] },
        {
          name: 'hsm2',
          stampId: 'stamp2',
          partitions: [
            { label: 'par0', cloningDomain: 'domain-b' },
            { label: 'par1', cloningDomain: 'domain-a' },
          ],
        },
      ],
    });
  }, 120_000);
  afterAll(async () => fx?.stop());

  const commands = (name: string) => fx.world.lunacm.counters.commands.byName[name] ?? 0;

  it('reports the conflict by member with the documented fix, without a synchronize loop', async () => {
    const wrong = partitionSerial(fx.world, 'hsm2', 'par0');
    const primary = partitionSerial(fx.world, 'hsm1', 'par0');
    await fx.apply(haGroup(fx.world, 'cloning', { label }));
    const g = await waitFor('CloningDomainConsistent=False', async () => {
      const g = await fx.getGroup('cloning');
      return condition(g, 'CloningDomainConsistent')?.status === 'False' && g;
    });
    const c = condition(g, 'CloningDomainConsistent');
    expect(c?.reason).toBe('CloningDomainMismatch');
    expect(c?.message).toContain(`slot 0 (member ${primary} (partition par0 on DedicatedHsm hsm1))`);
    expect(c?.message).toContain(`slot 1 (member ${wrong} (partition par0 on DedicatedHsm hsm2))`);
    expect(c?.message).toMatch(/add it to the group .* then remove the incorrectly configured partition/);
    expect(condition(g, 'Ready')).toMatchObject({ status: 'False', reason: 'CloningDomainMismatch' });

    // Synchronisation is found disabled (say, by an administrator): the operator does not enable it across the
    // conflict, and does not retry it every pass.
    const group = fx.world.lunacm.state.groups.get(label);
    if (!group) throw new Error('group not created');
    group.synchronize = false;
    const polls = commands('hagroup listgroups');
    const rv = (await fx.getGroup('cloning')).metadata.resourceVersion;
    await waitFor('three more polls', () => commands('hagroup listgroups') >= polls + 3, 25_000);
    expect(commands('hagroup synchronize')).toBe(0);
    const after = await fx.getGroup('cloning');
    expect(condition(after, 'AutoRecoveryConfigured')?.message).toContain('synchronization stays disabled until the cloning-domain conflict is fixed');
    // One status write for the held synchronisation, then nothing more.
    const rv2 = after.metadata.resourceVersion;
    const polls2 = commands('hagroup listgroups');
    await waitFor('another poll', () => commands('hagroup listgroups') >= polls2 + 1, 10_000);
    expect((await fx.getGroup('cloning')).metadata.resourceVersion).toBe(rv2);
    expect(rv2).not.toBe(rv);
  });

  it('clears once a partition with the right domain replaces the wrong one, then enables synchronisation once', async () => {
    const right = partitionSerial(fx.world, 'hsm2', 'par1');
    const wrong = partitionSerial(fx.world, 'hsm2', 'par0');
    await fx.patchGroup('cloning', {
      spec: {
        members: [
          { dedicatedHsmRef: { name: 'hsm1' }, partitionLabel: 'par0' },
          { dedicatedHsmRef: { name: 'hsm2' }, partitionLabel: 'par1' },
        ],
      },
    });
    const g = await waitFor('Ready after the fix', async () => {
      const g = await fx.getGroup('cloning');
      return condition(g, 'Ready')?.status === 'True' && g;
    });
    expect(condition(g, 'CloningDomainConsistent')).toMatchObject({ status: 'True', reason: 'Consistent' });
    expect(fx.world.lunacm.state.groups.get(label)?.members.map((m) => m.serial)).not.toContain(wrong);
    expect(fx.world.lunacm.state.groups.get(label)?.members.map((m) => m.serial)).toContain(right);
    expect(fx.world.lunacm.state.groups.get(label)?.synchronize).toBe(true);
    expect(commands('hagroup synchronize')).toBe(1);
    expect(commands('hagroup removemember')).toBe(1);
  });
});
