/** What plan predicts of admission, from the schemas the CRDs are generated from: defaults, schema errors, immutability. */
import { describe, expect, it } from 'vitest';
import { DedicatedHsmDefinition, HsmHaGroupDefinition, KINDS, NtlsClientBindingDefinition } from '../../../src/api/index.js';
import { immutableChanges, schemaErrors, transitionRules, withDefaults } from '../../../src/plan/admission.js';
import { formatDiff, specDiff } from '../../../src/plan/diff.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const NET = `/subscriptions/${SUB}/resourceGroups/hsm-rg/providers/Microsoft.Network`;

function hsm(azure: Record<string, unknown> = {}, name = 'hsm-eastus-1') {
  const spec = withDefaults(DedicatedHsmDefinition, {
    azure: { subscriptionId: SUB, resourceGroup: 'hsm-rg', location: 'eastus', stampId: 'stamp1', subnetId: `${NET}/virtualNetworks/hsm-vnet/subnets/hsmsubnet`, expressRouteGatewayId: `${NET}/virtualNetworkGateways/hsm-ergw`, ...azure },
    appliance: { credentialsRef: { name: 'hsm-appliance' }, hostKey: 'SHA256:q2UZnfTBfjWA+y4iqL5B3qpaIdbluGLNOYmKkT030YE' },
  });
  const a = (spec as { azure: Record<string, unknown> }).azure;
  for (const [k, v] of Object.entries(azure)) if (v === undefined) delete a[k];
  return { metadata: { name }, spec };
}

describe('defaults', () => {
  it('fills what the API server fills: port, user, key names, deployment, policy, SKU, resync', () => {
    const { spec } = hsm();
    expect(spec).toMatchObject({
      azure: { sku: 'SafeNet Luna Network HSM A790' },
      appliance: { port: 22, username: 'tenantadmin', ntlsPort: 1792, credentialsRef: { key: 'password' } },
      deployment: { raceRetries: 3, redeployAfter: 2 },
      deletionPolicy: 'Orphan',
      resyncInterval: '10m',
    });
    expect(schemaErrors(DedicatedHsmDefinition, spec)).toEqual([]);
  });

  it('schema errors name the field under spec', () => {
    const { spec } = hsm({ location: 'East US' });
    expect(schemaErrors(DedicatedHsmDefinition, spec)).toEqual([expect.objectContaining({ path: 'spec.azure.location' })]);
  });
});

describe('immutable changes', () => {
  const before = hsm();
  it.each([
    ['stampId', { stampId: 'stamp2' }, 'spec.azure.stampId', 'stampId is immutable'],
    ['stampId -> zones (presence)', { stampId: undefined, zones: ['1'] }, 'spec.azure.stampId', 'stampId is immutable'],
    ['location', { location: 'westus' }, 'spec.azure.location', 'location is immutable'],
    ['resourceGroup', { resourceGroup: 'other-rg' }, 'spec.azure.resourceGroup', 'resourceGroup is immutable'],
    ['privateIpAddress added', { privateIpAddress: '10.0.2.10' }, 'spec.azure.privateIpAddress', 'privateIpAddress is immutable'],
    ['name (the defaulted-name root rule)', { name: 'hsm-renamed' }, 'spec.azure.name', 'spec.azure.name is immutable'],
  ])('%s is refused with the API server\'s message', (_what, change, path, message) => {
    const r = immutableChanges(DedicatedHsmDefinition, before, hsm(change));
    expect(r.unchecked).toEqual([]);
    expect(r.violations).toContainEqual({ path, message: expect.stringContaining(message) });
    expect(r.violations.every((v) => v.message.includes('create a new DedicatedHsm'))).toBe(true);
  });

  it('tags, the gateway and the appliance change freely; naming the defaulted ARM name is no change', () => {
    const after = hsm({ tags: { env: 'prod' }, expressRouteGatewayId: `${NET}/virtualNetworkGateways/hsm-ergw2`, name: 'hsm-eastus-1' });
    expect(immutableChanges(DedicatedHsmDefinition, before, after).violations).toEqual([]);
  });

  it('clientName of a binding and label of an HA group are immutable', () => {
    const b = (clientName: string) => ({ spec: { clientName, identity: { hostname: 'a' }, certificate: { generate: {} }, targets: [] } });
    expect(immutableChanges(NtlsClientBindingDefinition, b('app-a'), b('app-b')).violations).toEqual([{ path: 'spec.clientName', message: expect.stringContaining('clientName is immutable') }]);
    const g = (label: string) => ({ spec: { label, members: [] } });
    expect(immutableChanges(HsmHaGroupDefinition, g('ha1'), g('ha2')).violations).toEqual([{ path: 'spec.label', message: expect.stringContaining('label is immutable') }]);
  });

  // Kinds the operator reconciles have immutable fields; a statement of policy (HsmGrant) may change freely.
  it.each(KINDS.filter((d) => d.status).map((d) => [d.kind, d] as const))('%s: plan evaluates every transition rule src/api writes', (_kind, def) => {
    const rules = transitionRules(def);
    expect(rules.length).toBeGreaterThan(0);
    // Every rule is of a shape plan evaluates: none is left unchecked.
    expect(immutableChanges(def, {}, {}).unchecked).toEqual([]);
    // ... and a rule of another shape would be said, not guessed.
    const odd = { ...def, rootRules: [...def.rootRules, { rule: 'self.spec.x <= oldSelf.spec.x', message: 'x may only shrink' }] };
    expect(immutableChanges(odd, {}, {}).unchecked).toEqual(['(root): self.spec.x <= oldSelf.spec.x']);
  });
});

describe('spec diff', () => {
  it('lists added, removed and changed fields by path; lists compare whole', () => {
    const d = specDiff({ azure: { tags: { a: '1', b: '2' } }, targets: [1, 2] }, { azure: { tags: { a: '1', c: '3' } }, targets: [1, 3] });
    expect(formatDiff(d)).toEqual(['- spec.azure.tags.b: "2"', '+ spec.azure.tags.c: "3"', '~ spec.targets: [1,2] -> [1,3]']);
    expect(specDiff({ a: 1 }, { a: 1 })).toEqual([]);
  });
});
