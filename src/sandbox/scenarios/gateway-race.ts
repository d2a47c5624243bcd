/** The guide's deployment race: the first deployments fail on the networking dependency; the operator re-runs them. */
import { allReady } from './checks.js';
import type { Scenario } from './types.js';

const RACES = 2;

export const gatewayRace: Scenario = {
  name: 'gateway-race',
  title: 'the first deployments fail on the gateway race; the operator re-runs them with backoff',
  guideSection: 'HSM Deployment Race Condition',
  promise: `${RACES} deployments fail with NetworkingDependencyNotReady, are retried, and everything ends Ready`,
  world: (o) => ({ ...o, gatewayTimeline: [['Updating', 2_000], ['Succeeded']] }),
  seed(ctx) {
    ctx.world.arm.world.failNextPuts(RACES, 'race');
    ctx.say(`Azure will fail the next ${RACES} HSM deployments on the networking dependency, as the guide's race does ("rerunning the deployment often solves the issue").`);
  },
  async play(ctx) {
    await ctx.waitFor('a deployment to fail on the race', (s) =>
      s.hsms.some((h) => h.status?.lastFailure?.class === 'DeploymentRace' || h.status?.conditions?.some((c) => c.reason === 'DeploymentRace')),
    );
    ctx.say('Detected: a deployment failed on the gateway race (DeploymentRace). The operator re-runs it with backoff instead of giving up.');
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    const puts = ctx.world.arm.count({ method: 'PUT', pathIncludes: '/dedicatedHSMs/' });
    return `all ${ctx.applied.length} resources are Ready after ${puts} HSM deployments (${RACES} lost to the race)`;
  },
};
