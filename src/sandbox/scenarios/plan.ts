/**
 * `hsm-operator plan` before applying (issue 24): the quota and delegation stories, shown by plan first, then
 * applied, and the operator is seen to do what plan said. Plan runs over the very manifests the sandbox applies,
 * against the live cluster and the simulated Azure, through the same read-only context the CLI builds.
 */
import { buildPlanContext } from '../../plan/context.js';
import { plan } from '../../plan/plan.js';
import { planText } from '../../plan/render.js';
import type { ObjectPlan, PlanResult } from '../../plan/types.js';
import { silentLogger } from '../../runtime/index.js';
import type { Manifest } from '../manifests.js';
import { allReady, hasCondition } from './checks.js';
import type { Scenario, ScenarioContext } from './types.js';

const HSM = 'hsm-eastus-1';
const LEFTOVERS = ['hsm-failed-1', 'hsm-failed-2'];

async function planOf(ctx: ScenarioContext, manifests: readonly Manifest[]): Promise<PlanResult> {
  const pc = buildPlanContext({ kube: ctx.client, azure: { connection: ctx.world.azure.connection, defaultCredential: ctx.world.azure.credential }, resolve: ctx.world.resolve, log: silentLogger });
  try {
    return await plan({ manifests: manifests.map((manifest) => ({ source: `config/samples/${manifest.metadata.namespace === ctx.namespaces.app ? 'app-a' : 'platform'}/${manifest.kind}/${manifest.metadata.name}`, manifest })), namespace: ctx.namespaces.platform, pc, signal: new AbortController().signal });
  } finally {
    await pc.close();
  }
}

function show(ctx: ScenarioContext, r: PlanResult): ObjectPlan {
  for (const line of planText(r, 'hsm-operator plan -f config/samples/ (nothing is written)').trimEnd().split('\n')) ctx.say(`  | ${line}`);
  const p = r.objects.find((o) => o.kind === 'DedicatedHsm' && o.name === HSM);
  if (!p) throw new Error(`plan said nothing about DedicatedHsm ${HSM}`);
  return p;
}

export const planScenario: Scenario = {
  name: 'plan',
  title: 'hsm-operator plan shows the delegation and quota stories before anything is applied; the operator then does what it said',
  guideSection: 'Subnet delegation; Deployment failure based on quota',
  promise: `plan names SubnetNotDelegated, then QuotaExceeded with the leftovers; applied, ${HSM} stops on QuotaExceeded as planned; after a human deletes them, everything Ready`,
  seed(ctx) {
    const { subscriptionId, resourceGroup, location, subnetId } = ctx.world.ids;
    for (const name of LEFTOVERS)
      ctx.world.arm.world.addHsm({ subscriptionId, resourceGroup, location, subnetId, name, stampId: 'stamp1', provisioningState: 'Failed', statusMessage: 'Deployment failed.' });
    ctx.world.arm.world.setSubnetDelegated(subnetId, false);
    ctx.say(`The subnet is not delegated to Microsoft.HardwareSecurityModules/dedicatedHSMs, and two failed deployments (${LEFTOVERS.join(', ')}) still hold stamp1.`);
  },
  async beforeApply(ctx, manifests) {
    ctx.say('Before applying anything, the platform team runs hsm-operator plan over the samples:');
    const first = show(ctx, await planOf(ctx, manifests));
    if (!first.blockers.some((b) => b.reason === 'SubnetNotDelegated')) throw new Error(`plan did not say the subnet is not delegated: ${JSON.stringify(first.blockers.map((b) => b.reason))}`);
    ctx.say('Plan says the subnet is not delegated. A human delegates it (as the guide says) and runs plan again:');
    ctx.world.arm.world.setSubnetDelegated(ctx.world.ids.subnetId, true);
    const second = show(ctx, await planOf(ctx, manifests));
    const quota = second.blockers.find((b) => b.reason === 'QuotaExceeded');
    if (!quota || !LEFTOVERS.every((n) => quota.message.includes(n))) throw new Error(`plan did not name the leftovers holding the quota: ${JSON.stringify(second.blockers)}`);
    const puts = ctx.world.arm.count({ method: 'PUT' });
    if (puts !== 0) throw new Error(`plan wrote to Azure: ${puts} PUTs`);
    ctx.say(`Plan says ${HSM} would stop on QuotaExceeded naming ${LEFTOVERS.join(', ')} (and nothing was written: 0 PUTs). The samples are applied anyway, to see plan was right.`);
  },
  async play(ctx) {
    await ctx.waitFor(`${HSM} to report QuotaExceeded, as planned`, (s) => hasCondition(s, 'DedicatedHsm', HSM, 'Ready', 'QuotaExceeded', 'False'));
    const puts = ctx.world.arm.count({ method: 'PUT', pathIncludes: `/dedicatedHSMs/${HSM}` });
    if (puts !== 0) throw new Error(`the operator sent ${puts} PUTs for ${HSM} although plan and the quota said no`);
    ctx.say(`As planned: ${HSM} is Ready=False QuotaExceeded and no PUT was sent. A human deletes the leftovers and asks for a re-check (dedicatedhsm.io/resync-now).`);
    for (const name of LEFTOVERS) ctx.world.arm.world.deleteOutOfBand(name);
    await ctx.annotate('DedicatedHsm', HSM, { 'dedicatedhsm.io/resync-now': new Date().toISOString() });
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    return `plan named SubnetNotDelegated, then QuotaExceeded with ${LEFTOVERS.join(', ')}; the operator stopped exactly there, and once they were deleted all ${ctx.applied.length} resources became Ready`;
  },
};
