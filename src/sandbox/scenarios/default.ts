/**
 * The main job: the samples converge, with the gateway still Updating at first so the wait is visible. The platform
 * team's HSMs and HA group in its namespace; app team A's clients in the team's namespace, registered on those HSMs
 * under the platform team's HsmGrant, their output Secrets written where the team's pods mount them.
 */
import { allReady } from './checks.js';
import type { Scenario } from './types.js';

export const defaultScenario: Scenario = {
  name: 'default',
  title: "the platform team's two HSMs and HA group, and app team A's two NTLS clients under its grant, converge from the samples",
  guideSection: 'HSM Deployment Using Terraform (wait for the gateway) and the whole deployment lifecycle',
  promise: 'every DedicatedHsm, NtlsClientBinding and HsmHaGroup Ready',
  async play(ctx) {
    const { platform, app } = ctx.namespaces;
    if (platform !== app)
      ctx.say(`App team A's bindings in ${app} name the DedicatedHsms in ${platform}; the HsmGrant app-team-a there admits them (partitions team-a-*, client names team-a-*).`);
    ctx.say('The ExpressRoute gateway is still Updating: the operator waits for Succeeded instead of deploying into the race.');
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    return `all ${ctx.applied.length} resources are Ready`;
  },
};
