/** What a DedicatedHsm asks of Azure. */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../../src/api/index.js';
import { armName, desiredHsm, quotaStampKey, tagsToWrite } from '../../../../src/controllers/dedicatedhsm/desired.js';

const hsm = (azure: Partial<DedicatedHsm['spec']['azure']> = {}, name = 'hsm-eastus-1'): DedicatedHsm =>
  ({
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'DedicatedHsm',
    metadata: { name, namespace: 'ns' },
    spec: {
      azure: { subscriptionId: 's', resourceGroup: 'rg', location: 'eastus', sku: 'SafeNet Luna Network HSM A790', subnetId: '/sub/x', expressRouteGatewayId: '/gw/x', stampId: 'stamp1', ...azure },
      appliance: { port: 22, username: 'tenantadmin', credentialsRef: { name: 'c', key: 'password' }, ntlsPort: 1792 },
      deployment: { raceRetries: 3, redeployAfter: 2 },
      deletionPolicy: 'Orphan',
      resyncInterval: '10m',
    },
  }) as DedicatedHsm;

describe('desired HSM', () => {
  it('the ARM name defaults to metadata.name', () => {
    expect(armName(hsm())).toBe('hsm-eastus-1');
    expect(armName(hsm({ name: 'other' }))).toBe('other');
  });

  it('maps the spec to the create request, optional fields only when set', () => {
    expect(desiredHsm(hsm())).toEqual({ subscriptionId: 's', resourceGroup: 'rg', name: 'hsm-eastus-1', location: 'eastus', sku: 'SafeNet Luna Network HSM A790', subnetId: '/sub/x', stampId: 'stamp1' });
    expect(desiredHsm(hsm({ stampId: undefined, zones: ['2'], privateIpAddress: '10.0.2.9', tags: { a: 'b' } }))).toMatchObject({ zones: ['2'], privateIpAddress: '10.0.2.9', tags: { a: 'b' } });
    expect(quotaStampKey(hsm({ stampId: undefined, zones: ['2'] }))).toBe('zone-2');
  });

  it('tags: written only when the spec has them and they differ', () => {
    expect(tagsToWrite(undefined, { x: '1' })).toBeUndefined();
    expect(tagsToWrite({ x: '1' }, { x: '1' })).toBeUndefined();
    expect(tagsToWrite({ x: '1' }, { x: '2' })).toEqual({ x: '1' });
    expect(tagsToWrite({}, { x: '1' })).toEqual({});
    expect(tagsToWrite({ x: '1', y: '2' }, { x: '1' })).toEqual({ x: '1', y: '2' });
  });
});
