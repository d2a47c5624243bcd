/** The main job: the samples converge, with the gateway still Updating at first so the wait is visible. */
import { allReady } from './checks.js';
import type { Scenario } from './types.js';

export const defaultScenario: Scenario = {
  name: 'default',
  title: 'two HSMs, an HA group and two NTLS clients converge from the samples',
  guideSection: 'HSM Deployment Using Terraform (wait for the gateway) and the whole deployment lifecycle',
  promise: 'every DedicatedHsm, NtlsClientBinding and HsmHaGroup Ready',
  async play(ctx) {
    ctx.say('The ExpressRoute gateway is still Updating: the operator waits for Succeeded instead of deploying into the race.');
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    return `all ${ctx.applied.length} resources are Ready`;
  },
};
