/** The guide's "failed HA group member doesn't recover": a member goes down and comes back. */
import { allReady, find, hasCondition } from './checks.js';
import type { HsmHaGroup } from '../../api/index.js';
import type { Scenario } from './types.js';

const HSM = 'hsm-eastus-2';
const GROUP = 'payments-ha';

export const haMemberDown: Scenario = {
  name: 'ha-member-down',
  title: 'an HA member goes down and comes back; the operator sees it and recovers it into the group',
  guideSection: "Failed HA Group Member Doesn't Recover",
  promise: `after Ready, ${HSM} goes down (MemberDown) and up again; the member is recovered and everything is Ready`,
  async play(ctx) {
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    const appliance = ctx.world.appliances.get(HSM);
    if (!appliance) throw new Error(`no appliance ${HSM}`);
    ctx.say(`Everything is Ready. Now ${HSM} drops off the network: its HA member goes down.`);
    await appliance.controls.down();
    await ctx.waitFor(`${GROUP} to report the member down`, (s) => {
      const g = find(s, 'HsmHaGroup', GROUP) as HsmHaGroup | undefined;
      return hasCondition(s, 'HsmHaGroup', GROUP, 'MembersHealthy', 'MemberDown', 'False') || g?.status?.members?.some((m) => m.state === 'down');
    });
    ctx.say(`Detected: ${GROUP} reports MemberDown. Nothing can be recovered while the appliance is away.`);
    await ctx.sleep(3_000);
    ctx.say(`${HSM} is back on the network. By default LunaCM would not take it back into the group; the operator runs "hagroup recover".`);
    await appliance.controls.up();
    await ctx.waitFor('every resource Ready again', (s) => allReady(s, ctx.applied));
    const c = ctx.world.lunacm.counters;
    return `member of ${HSM} recovered (hagroup recover: ${c.manualRecoveries}, LunaCM auto recovery: ${c.autoRecoveries}); all ${ctx.applied.length} resources Ready`;
  },
};
