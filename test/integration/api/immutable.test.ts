/**
 * Fields Azure cannot change are immutable at admission, with a message that says what to do; fields that can change
 * still can.
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from '../../support/kube.js';
import { ensureGeneratedCrds } from './crds.js';
import { adminEndpoint, type Endpoint } from '../../support/http.js';
import { create, loadManifests, mergePatch, type Manifest } from './objects.js';

const samplesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/samples');
const OTHER_SUB = '00000000-0000-0000-0000-0000000000ff';
const net = (sub: string) => `/subscriptions/${sub}/resourceGroups/hsm-rg/providers/Microsoft.Network`;

function sample(file: string, name: string): Manifest {
  const [m] = loadManifests(join(samplesDir, file));
  if (!m) throw new Error(`${file} is empty`);
  return { ...m, metadata: { name } };
}

describe('immutable fields', () => {
  let ns: string;
  let ep: Endpoint;
  const stamped = sample('platform/dedicatedhsm-stamp1.yaml', 'immutable-stamped');
  const zonal = sample('platform/dedicatedhsm-stamp1.yaml', 'immutable-zonal');
  const binding = sample('app-a/ntlsclientbinding-generated.yaml', 'immutable-binding');
  const group = sample('platform/hsmhagroup.yaml', 'immutable-group');

  beforeAll(async () => {
    ep = adminEndpoint();
    ns = await createNamespace('api-immutable');
    await ensureGeneratedCrds(ep, ns);
    const azure = (zonal.spec as { azure: Record<string, unknown> }).azure;
    delete azure.stampId;
    azure.zones = ['1'];
    for (const m of [stamped, zonal, binding, group]) {
      const r = await create(ep, ns, m);
      expect(r.status, r.text).toBe(201);
    }
  });

  const azureChanges: [string, () => Manifest, Record<string, unknown>, string][] = [
    ['subscriptionId', () => stamped, { subscriptionId: OTHER_SUB, subnetId: `${net(OTHER_SUB)}/virtualNetworks/hsm-vnet/subnets/hsmsubnet`, expressRouteGatewayId: `${net(OTHER_SUB)}/virtualNetworkGateways/hsm-ergw` }, 'subscriptionId is immutable'],
    ['resourceGroup', () => stamped, { resourceGroup: 'other-rg' }, 'resourceGroup is immutable'],
    ['location', () => stamped, { location: 'westus' }, 'location is immutable'],
    ['stampId', () => stamped, { stampId: 'stamp2' }, 'stampId is immutable'],
    ['stampId -> zones', () => stamped, { stampId: null, zones: ['1'] }, 'stampId is immutable'],
    ['zones', () => zonal, { zones: ['2'] }, 'zones is immutable'],
    ['zones -> stampId', () => zonal, { zones: null, stampId: 'stamp1' }, 'zones is immutable'],
    ['subnetId', () => stamped, { subnetId: `${net('00000000-0000-0000-0000-000000000001')}/virtualNetworks/hsm-vnet/subnets/othersubnet` }, 'subnetId is immutable'],
    ['name (set to another name)', () => stamped, { name: 'hsm-renamed' }, 'spec.azure.name is immutable'],
    ['privateIpAddress (added)', () => stamped, { privateIpAddress: '10.0.2.10' }, 'privateIpAddress is immutable'],
  ];

  it.each(azureChanges)('changing spec.azure %s is rejected', async (_what, target, change, message) => {
    const r = await mergePatch(ep, ns, target(), { spec: { azure: change } });
    expect(r.status, r.text).toBe(422);
    expect(String(r.body.message)).toContain(message);
    expect(String(r.body.message)).toContain('create a new DedicatedHsm');
  });

  it('changing the sku is rejected (there is no second supported SKU, so the enum refuses it too)', async () => {
    const r = await mergePatch(ep, ns, stamped, { spec: { azure: { sku: 'SafeNet Luna Network HSM A790 v2' } } });
    expect(r.status, r.text).toBe(422);
    expect(String(r.body.message)).toContain('spec.azure.sku');
  });

  it('setting spec.azure.name to the name it already defaults to is not a change', async () => {
    // metadata.name "immutable-stamped" is a valid ARM name, so the effective ARM name stays the same.
    const r = await mergePatch(ep, ns, stamped, { spec: { azure: { name: stamped.metadata.name } } });
    expect(r.status, r.text).toBe(200);
  });

  it('changing the binding clientName is rejected', async () => {
    const r = await mergePatch(ep, ns, binding, { spec: { clientName: 'someone-else' } });
    expect(r.status, r.text).toBe(422);
    expect(String(r.body.message)).toContain('clientName is immutable');
  });

  it('changing the HA group label is rejected', async () => {
    const r = await mergePatch(ep, ns, group, { spec: { label: 'otherHA' } });
    expect(r.status, r.text).toBe(422);
    expect(String(r.body.message)).toContain('label is immutable');
  });

  it('mutable fields still change: tags, gateway, appliance, policy, intervals', async () => {
    const r = await mergePatch(ep, ns, stamped, {
      spec: {
        azure: { tags: { environment: 'staging' }, expressRouteGatewayId: `${net('00000000-0000-0000-0000-000000000001')}/virtualNetworkGateways/hsm-ergw2` },
        appliance: { host: '10.0.2.4', port: 2222 },
        deletionPolicy: 'Delete',
        resyncInterval: '30m',
        deployment: { raceRetries: 5 },
      },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.spec).toMatchObject({ deletionPolicy: 'Delete', appliance: { host: '10.0.2.4', port: 2222 } });
    const b = await mergePatch(ep, ns, binding, { spec: { identity: { hostname: 'app-a2.example.internal' }, targets: [{ dedicatedHsmRef: { name: 'hsm-eastus-1' }, partitions: ['par0', 'par1'] }] } });
    expect(b.status, b.text).toBe(200);
    const g = await mergePatch(ep, ns, group, { spec: { recovery: { autoRecoveryRetries: -1 }, synchronize: false } });
    expect(g.status, g.text).toBe(200);
  });
});
