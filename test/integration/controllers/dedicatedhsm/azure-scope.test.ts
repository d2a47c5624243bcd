/**
 * Azure scope on the real API server with the ARM simulator: the operator runs with a tenancy policy (globalIdentity
 * onlyListed) and watches a platform namespace the policy names and a team namespace it does not. The team's
 * DedicatedHsm is refused (NotPermitted) and the simulator received not one request; it does not hold back the
 * platform's HSM of the same ARM name either. Of two platform objects naming one Azure HSM the older manages it
 * (DuplicateResource for the newer); when the older goes, the newer is looked at again and, asked by the adopt
 * annotation, takes the HSM over and tags it as its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION, type Condition, type DedicatedHsm } from '../../../../src/api/index.js';
import { parseTenancyPolicy } from '../../../../src/controllers/shared/index.js';
import type { Operator } from '../../../../src/operator.js';
import { applianceSecret, dedicatedHsm, type Manifest } from '../../../../src/sandbox/manifests.js';
import { startWorld, type World } from '../../../../src/sandbox/world.js';
import { adminEndpoint, call } from '../../../support/http.js';
import { createNamespace } from '../../../support/kube.js';
import { startTestOperator } from '../../../support/operator.js';
import { waitFor } from '../../../support/wait.js';

const ep = adminEndpoint();
const hsmPath = (ns: string, name?: string) => `/apis/${GROUP}/${VERSION}/namespaces/${ns}/dedicatedhsms${name ? `/${name}` : ''}`;

async function create(ns: string, m: Manifest): Promise<void> {
  const secret = await call(ep, 'POST', `/api/v1/namespaces/${ns}/secrets`, applianceSecret('hsm1-appliance'));
  if (secret.status >= 300 && secret.status !== 409) throw new Error(`Secret: HTTP ${secret.status} ${secret.text}`);
  const r = await call(ep, 'POST', `${hsmPath(ns)}?fieldValidation=Strict`, m);
  if (r.status >= 300) throw new Error(`DedicatedHsm: HTTP ${r.status} ${r.text}`);
}

async function get(ns: string, name: string): Promise<DedicatedHsm | undefined> {
  const r = await call(ep, 'GET', hsmPath(ns, name));
  return r.status === 404 ? undefined : (r.body as unknown as DedicatedHsm);
}

function condition(hsm: DedicatedHsm | undefined, type: string): Condition | undefined {
  return hsm?.status?.conditions?.find((c) => c.type === type) as Condition | undefined;
}

async function waitForReason(ns: string, name: string, type: string, reason: string): Promise<DedicatedHsm> {
  return waitFor(`${ns}/${name} ${type}=${reason}`, async () => {
    const h = await get(ns, name);
    return condition(h, type)?.reason === reason ? h : undefined;
  });
}

/** hsm1 of the world as object `name` (the same ARM resource: spec.azure.name hsm1). */
function manifest(world: World, name: string, annotations?: Record<string, string>): Manifest {
  const m = dedicatedHsm(world, 'hsm1', annotations ? { annotations } : {});
  const spec = m.spec as { azure: Record<string, unknown> } & Record<string, unknown>;
  return { ...m, metadata: { ...m.metadata, name }, spec: { ...spec, azure: { ...spec.azure, name: 'hsm1' } } };
}

describe('Azure scope: the tenancy policy, one DedicatedHsm per Azure HSM', () => {
  let world: World;
  let operator: Operator | undefined;
  let platform: string;
  let team: string;
  const hsmRequests = () => world.arm.requests.filter((r) => r.path.toLowerCase().includes('/dedicatedhsms/hsm1'));

  beforeAll(async () => {
    platform = await createNamespace('scope-platform');
    team = await createNamespace('scope-team');
    world = await startWorld({ hsms: [{ name: 'hsm1', stampId: 'stamp1' }] });
    const policy = parseTenancyPolicy(
      `globalIdentity: onlyListed\nnamespaces:\n  - names: [${platform}]\n    identity: operator\n    subscriptions: [{ id: "${world.ids.subscriptionId}", resourceGroups: ["${world.ids.resourceGroup}"] }]\n`,
      platform,
    );
    operator = await startTestOperator({ namespace: platform, alsoWatch: [team], world, controllers: ['dedicatedhsm'], tenancy: policy, resyncIntervalMs: 1_000 });
  }, 60_000);

  afterAll(async () => {
    await operator?.stop();
    await world?.stop();
  });

  it('a namespace the policy does not name: NotPermitted saying who must change what, and ARM received nothing', async () => {
    await create(team, manifest(world, 'hsm1'));
    const hsm = await waitForReason(team, 'hsm1', 'Ready', 'NotPermitted');
    expect(condition(hsm, 'Ready')?.message).toContain(`Namespace ${team} is not named in the operator's tenancy policy`);
    expect(condition(hsm, 'Ready')?.message).toContain("the platform team must change the operator's tenancy policy");
    expect(condition(hsm, 'Stalled')?.status).toBe('True');
    // The pass ran (the condition above is its report) and the simulator received not one request.
    expect(world.arm.requests).toEqual([]);
    expect(world.arm.count()).toBe(0);
  });

  it('the platform namespace deploys the same ARM name: the refused object does not hold it, and still sends nothing', async () => {
    await create(platform, manifest(world, 'hsm1'));
    await waitFor('a PUT of hsm1', () => hsmRequests().some((r) => r.method === 'PUT'));
    const hsm = await waitForReason(platform, 'hsm1', 'Ready', 'Ready');
    expect(world.arm.world.hsm('hsm1')?.tags['dedicatedhsm.io-owner-uid']).toBe(hsm.metadata.uid);
    expect(condition(await get(team, 'hsm1'), 'Ready')?.reason).toBe('NotPermitted');
  });

  it('a newer object naming the same Azure HSM does nothing in Azure; once the older is gone, the adopt annotation lets it take over', async () => {
    const puts = hsmRequests().filter((r) => r.method !== 'GET').length;
    await create(platform, manifest(world, 'hsm-dup', { 'dedicatedhsm.io/adopt': 'hsm1' }));
    const dup = await waitForReason(platform, 'hsm-dup', 'Ready', 'DuplicateResource');
    expect(condition(dup, 'Ready')?.message).toContain('DedicatedHsm hsm1 in this namespace, which is older,');
    expect(hsmRequests().filter((r) => r.method !== 'GET').length).toBe(puts);

    // The older goes (Orphan: the Azure HSM stays, tagged as the older's): the newer is re-enqueued by the index watch.
    const del = await call(ep, 'DELETE', hsmPath(platform, 'hsm1'));
    expect(del.status).toBeLessThan(300);
    await waitFor('hsm1 gone', async () => (await get(platform, 'hsm1')) === undefined);
    const taken = await waitForReason(platform, 'hsm-dup', 'Ready', 'Ready');
    await waitFor('the ownership tags of hsm-dup', () => world.arm.world.hsm('hsm1')?.tags['dedicatedhsm.io-owner-uid'] === taken.metadata.uid);
    expect(world.arm.world.hsm('hsm1')?.tags['dedicatedhsm.io-owner-name']).toBe('hsm-dup');
    // Taken over with a tags PATCH, never a second PUT.
    expect(hsmRequests().filter((r) => r.method === 'PUT')).toHaveLength(1);
  });
});
