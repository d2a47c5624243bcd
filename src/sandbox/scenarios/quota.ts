/** The guide's quota story: failed leftovers keep counting against 2 per stamp / 4 per region. */
import { allReady, find, hasCondition } from './checks.js';
import { conditionOf } from '../../cli/resources.js';
import type { Scenario } from './types.js';

const LEFTOVERS = ['hsm-failed-1', 'hsm-failed-2'];

export const quota: Scenario = {
  name: 'quota',
  title: 'failed leftovers use the stamp quota; the operator stops, names them, and deploys once they are gone',
  guideSection: 'Deployment failure based on quota',
  promise: 'hsm-eastus-1 Ready=False QuotaExceeded naming the leftovers; after a human deletes them, everything Ready',
  seed(ctx) {
    const { subscriptionId, resourceGroup, location, subnetId } = ctx.world.ids;
    for (const name of LEFTOVERS)
      ctx.world.arm.world.addHsm({ subscriptionId, resourceGroup, location, subnetId, name, stampId: 'stamp1', provisioningState: 'Failed', statusMessage: 'Deployment failed.' });
    ctx.say(`Two failed deployments from last week are still in stamp1: ${LEFTOVERS.join(', ')} (provisioningState Failed). They count against the quota of 2 per stamp.`);
  },
  async play(ctx) {
    const message = await ctx.waitFor('hsm-eastus-1 to report QuotaExceeded', (s) => {
      if (!hasCondition(s, 'DedicatedHsm', 'hsm-eastus-1', 'Ready', 'QuotaExceeded', 'False')) return undefined;
      const o = find(s, 'DedicatedHsm', 'hsm-eastus-1');
      return o && conditionOf(o, 'Ready')?.message;
    });
    const named = LEFTOVERS.filter((n) => message.includes(n));
    ctx.say(`Detected: hsm-eastus-1 is Ready=False QuotaExceeded and stopped (no PUT); the message names ${named.length ? named.join(', ') : 'no leftover (!)'}.`);
    if (named.length !== LEFTOVERS.length) throw new Error(`QuotaExceeded does not name every leftover: ${message}`);
    const puts = () => ctx.world.arm.count({ method: 'PUT', pathIncludes: '/dedicatedHSMs/hsm-eastus-1' });
    const before = puts();
    await ctx.sleep(6_000);
    if (puts() !== before) throw new Error('the operator sent a PUT for hsm-eastus-1 although the quota is used up');
    ctx.say(`Six seconds later: still no deployment of hsm-eastus-1 (${before} PUTs in total); the operator waits for a human.`);
    ctx.say('A human now does what the guide says: delete the failed leftovers, then ask the operator to look again (dedicatedhsm.io/resync-now).');
    for (const name of LEFTOVERS) ctx.world.arm.world.deleteOutOfBand(name);
    await ctx.annotate('DedicatedHsm', 'hsm-eastus-1', { 'dedicatedhsm.io/resync-now': new Date().toISOString() });
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    return `QuotaExceeded named ${named.join(', ')}; once they were deleted all ${ctx.applied.length} resources became Ready`;
  },
};
