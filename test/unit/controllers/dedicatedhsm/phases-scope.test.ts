/**
 * The tenancy policy's Azure scope (controllers/dedicatedhsm/scope.ts, asked by credentials.ts azureAccess), over the
 * in-memory fakes: a DedicatedHsm outside its namespace's scope is told why and by whom it must be changed, and the
 * fake ARM's counters prove that not one request was sent; inside it, it acts as the identity the platform team chose.
 * Each denial is paired with the same object in an allowed place, which does reach Azure.
 */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../../src/api/index.js';
import { parseTenancyPolicy, type AzureCredentialRequest, type TenancyPolicy } from '../../../../src/controllers/shared/index.js';
import { azureCallsTotal, checkedWorlds, conditionOf, dedicatedHsm, deleting, eventsOf, NAMESPACE, runFinalize, runPass, type UnitWorld } from '../../../support/unit-context.js';

const world = checkedWorlds();
const SUB = '00000000-0000-0000-0000-0000000000a1';
const OTHER_SUB = '00000000-0000-0000-0000-0000000000b2';

function policy(text: string): TenancyPolicy {
  return parseTenancyPolicy(text, NAMESPACE, 'tenancy policy test.yaml');
}

const POLICY = `
globalIdentity: onlyListed
namespaces:
  - names: [platform]
    identity: operator
    subscriptions: [{ id: ${SUB}, resourceGroups: ["*"] }]
  - names: [team-a]
    identity: { secretName: sp-team-a }
    subscriptions: [{ id: ${SUB}, resourceGroups: [rg-hsm] }, { id: ${OTHER_SUB}, resourceGroups: [rg-b] }]
  - names: [team-b]
    identity: { secretName: sp-team-b }
    tenantCredentials: refused
    subscriptions: [{ id: ${SUB}, resourceGroups: [rg-team-b] }]
  - names: [team-c]
    identity: operator
    subscriptions: [{ id: ${OTHER_SUB}, resourceGroups: ["*"] }]
`;

/** A world under POLICY whose ctx.azure records the credentials each plane was asked for. */
function scoped(text = POLICY): { w: UnitWorld; asked: AzureCredentialRequest[] } {
  const w = world({ tenancy: policy(text) });
  const asked: AzureCredentialRequest[] = [];
  const plane = w.azure;
  w.ctx.azure = (req) => {
    asked.push(req);
    return plane;
  };
  w.secrets.set(NAMESPACE, 'sp-team-a', { tenantId: 'tenant-a', clientId: 'client-a', clientSecret: 'secret-a' });
  return { w, asked };
}

function inNamespace(w: UnitWorld, ns: string, o: { credentialsRef?: string; resourceGroup?: string; deletionPolicy?: 'Delete' | 'Orphan' } = {}): DedicatedHsm {
  const h = dedicatedHsm(w, 'hsm1', o.deletionPolicy ? { deletionPolicy: o.deletionPolicy } : {});
  h.metadata.namespace = ns;
  if (o.resourceGroup) h.spec.azure.resourceGroup = o.resourceGroup;
  if (o.credentialsRef) h.spec.azure.credentialsRef = { name: o.credentialsRef, tenantIdKey: 'tenantId', clientIdKey: 'clientId', clientSecretKey: 'clientSecret' };
  return h;
}

/** Denied: NotPermitted on Provisioned and Ready (Stalled), the message as given, one Warning, and zero ARM requests. */
async function expectDenied(w: UnitWorld, hsm: DedicatedHsm, message: RegExp): Promise<void> {
  const r = await runPass(w, hsm);
  expect(azureCallsTotal(w)).toBe(0);
  expect(w.azure.requests).toEqual([]);
  expect(r.obs).toBeUndefined();
  expect(conditionOf(r.hsm, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'NotPermitted', message: expect.stringMatching(message) });
  expect(conditionOf(r.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'NotPermitted', message: expect.stringMatching(message) });
  expect(conditionOf(r.hsm, 'Stalled')?.status).toBe('True');
  expect(r.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'NotPermitted']]);
  // Looked at again later: still nothing sent, not told twice.
  w.clock.advance(r.next ?? w.ctx.settings.defaultResyncMs);
  const r2 = await runPass(w, r.hsm);
  expect(azureCallsTotal(w)).toBe(0);
  expect(r2.events).toEqual([]);
  expect(conditionOf(r2.hsm, 'Ready')?.reason).toBe('NotPermitted');
}

describe('Azure scope: denied before any Azure call', () => {
  it('a namespace the policy does not name, with globalIdentity onlyListed', async () => {
    const { w, asked } = scoped();
    await expectDenied(w, inNamespace(w, 'team-z'), /^Namespace team-z is not named in the operator's tenancy policy.*platform team must change the operator's tenancy policy to name team-z/);
    expect(asked).toEqual([]);
    // The same object in a named namespace reaches Azure: the denial is the policy's, not the world's.
    const ok = await runPass(w, inNamespace(w, 'platform'));
    expect(ok.action?.kind).toBe('create');
    expect(w.azure.puts('hsm1')).toBe(1);
  });

  it('a subscription not allowed for the namespace (its own credentials change nothing)', async () => {
    const { w } = scoped();
    w.secrets.set('team-c', 'own-sp', { tenantId: 't', clientId: 'c', clientSecret: 's' });
    await expectDenied(w, inNamespace(w, 'team-c', { credentialsRef: 'own-sp' }), new RegExp(`^Subscription ${SUB} is not allowed for namespace team-c .*\\(allowed: ${OTHER_SUB}\\).*platform team must change`));
  });

  it('a resource group not allowed in an allowed subscription; "*" allows any', async () => {
    const { w } = scoped();
    await expectDenied(w, inNamespace(w, 'team-a', { resourceGroup: 'rg-other' }), new RegExp(`^Resource group rg-other of subscription ${SUB} is not allowed for namespace team-a .*\\(allowed there: rg-hsm\\)`));
    const anyGroup = await runPass(w, inNamespace(w, 'platform', { resourceGroup: 'rg-other' }));
    expect(w.azure.calls.getHsm).toBe(1);
    expect(conditionOf(anyGroup.hsm, 'Ready')?.reason).not.toBe('NotPermitted');
  });

  it('a subnet or gateway in a subscription the namespace may not use (admission keeps them in the HSM\'s; checked anyway)', async () => {
    const { w } = scoped();
    const elsewhere = (id: string) => id.replace(SUB, '00000000-0000-0000-0000-0000000000c3');
    const subnet = inNamespace(w, 'team-a');
    subnet.spec.azure.subnetId = elsewhere(subnet.spec.azure.subnetId);
    await expectDenied(w, subnet, /^spec\.azure\.subnetId is in a subscription the operator's tenancy policy does not allow for namespace team-a/);
    const gateway = inNamespace(w, 'team-a');
    gateway.spec.azure.expressRouteGatewayId = elsewhere(gateway.spec.azure.expressRouteGatewayId);
    const r = await runPass(w, gateway);
    expect(azureCallsTotal(w)).toBe(0);
    expect(conditionOf(r.hsm, 'Ready')?.message).toMatch(/^spec\.azure\.expressRouteGatewayId is in a subscription/);
  });

  it('spec.azure.credentialsRef where the policy refuses tenant credentials', async () => {
    const { w } = scoped();
    w.secrets.set('team-b', 'own-sp', { tenantId: 't', clientId: 'c', clientSecret: 's' });
    await expectDenied(w, inNamespace(w, 'team-b', { credentialsRef: 'own-sp', resourceGroup: 'rg-team-b' }), /does not let namespace team-b name its own Azure credentials \(spec\.azure\.credentialsRef\)/);
  });

  it('deletion with deletionPolicy Delete: DeletionBlocked NotPermitted, zero requests; Orphan releases without Azure', async () => {
    const { w } = scoped();
    const blocked = await runFinalize(w, deleting(inNamespace(w, 'team-z', { deletionPolicy: 'Delete' }), { 'dedicatedhsm.io/confirm-zeroize': 'hsm1' }));
    expect(blocked.released).toBe(false);
    expect(conditionOf(blocked.hsm, 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'NotPermitted', message: expect.stringContaining('Namespace team-z is not named') });
    const orphan = await runFinalize(w, deleting(inNamespace(w, 'team-z')));
    expect(orphan.released).toBe(true);
    expect(azureCallsTotal(w)).toBe(0);
    expect(w.device.counters().connections).toBe(0);
  });
});

describe('Azure scope: the identity the platform team chose', () => {
  it("a namespace with a platform Secret acts as it (a Secret of the operator's namespace, never the tenant's)", async () => {
    const { w, asked } = scoped();
    // A Secret of the same name in the tenant's namespace is not the one used.
    w.secrets.set('team-a', 'sp-team-a', { tenantId: 'tenant-evil', clientId: 'client-evil', clientSecret: 'evil' });
    const r = await runPass(w, inNamespace(w, 'team-a'));
    expect(r.action?.kind).toBe('create');
    expect(asked).toEqual([{ kind: 'clientSecret', tenantId: 'tenant-a', clientId: 'client-a', clientSecret: 'secret-a' }]);
  });

  it('the platform Secret missing: SecretNotFound saying the platform team must provide it, zero requests', async () => {
    const { w } = scoped(POLICY.replace('sp-team-a', 'sp-missing'));
    const r = await runPass(w, inNamespace(w, 'team-a'));
    expect(azureCallsTotal(w)).toBe(0);
    expect(conditionOf(r.hsm, 'Ready')).toMatchObject({ reason: 'SecretNotFound', message: expect.stringContaining(`Secret ${NAMESPACE}/sp-missing does not exist`) });
    expect(conditionOf(r.hsm, 'Ready')?.message).toContain('the platform team must provide it');
  });

  it("the operator's identity where the policy says so; a tenant's own Secret where allowed, inside the allowlist", async () => {
    const { w, asked } = scoped();
    await runPass(w, inNamespace(w, 'platform'));
    w.secrets.set('team-a', 'own-sp', { tenantId: 'tenant-own', clientId: 'client-own', clientSecret: 'own' });
    await runPass(w, inNamespace(w, 'team-a', { credentialsRef: 'own-sp' }));
    expect(asked).toEqual([{ kind: 'default' }, { kind: 'clientSecret', tenantId: 'tenant-own', clientId: 'client-own', clientSecret: 'own' }]);
  });

  it('globalIdentity allNamespaces: a namespace the policy does not name acts as before (the operator identity, anywhere)', async () => {
    const { w, asked } = scoped(POLICY.replace('onlyListed', 'allNamespaces'));
    const r = await runPass(w, inNamespace(w, 'team-z', { resourceGroup: 'rg-anything' }));
    expect(w.azure.calls.getHsm).toBe(1);
    expect(asked).toEqual([{ kind: 'default' }]);
    expect(eventsOf(w, 'NotPermitted')).toEqual([]);
    expect(conditionOf(r.hsm, 'Ready')?.reason).not.toBe('NotPermitted');
  });
});
