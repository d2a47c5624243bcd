/** What a DedicatedHsm asks of Azure. */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../../src/api/index.js';
import { armName, desiredHsm, quotaStampKey, tagsToWrite } from '../../../../src/controllers/dedicatedhsm/desired.js';
import { ownerTags, ownershipOf } from '../../../../src/controllers/dedicatedhsm/ownership.js';
import type { HsmState } from '../../../../src/azure/index.js';

const hsm = (azure: Partial<DedicatedHsm['spec']['azure']> = {}, name = 'hsm-eastus-1'): DedicatedHsm =>
  ({
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'DedicatedHsm',
    metadata: { name, namespace: 'ns', uid: 'uid-1' },
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

  it('maps the spec to the create request, optional fields only when set, the ownership tags always', () => {
    const own = { 'dedicatedhsm.io-owner-namespace': 'ns', 'dedicatedhsm.io-owner-name': 'hsm-eastus-1', 'dedicatedhsm.io-owner-uid': 'uid-1' };
    expect(ownerTags(hsm())).toEqual(own);
    expect(desiredHsm(hsm())).toEqual({ subscriptionId: 's', resourceGroup: 'rg', name: 'hsm-eastus-1', location: 'eastus', sku: 'SafeNet Luna Network HSM A790', subnetId: '/sub/x', stampId: 'stamp1', tags: own });
    expect(desiredHsm(hsm({ stampId: undefined, zones: ['2'], privateIpAddress: '10.0.2.9', tags: { a: 'b' } }))).toMatchObject({ zones: ['2'], privateIpAddress: '10.0.2.9', tags: { a: 'b', ...own } });
    // A reserved name in the spec (the CRD refuses it; an older object may hold one) never overrides ours, in any case.
    expect(desiredHsm(hsm({ tags: { 'DedicatedHsm.io-Owner-Uid': 'someone-else' } })).tags).toEqual(own);
    expect(quotaStampKey(hsm({ stampId: undefined, zones: ['2'] }))).toBe('zone-2');
  });

  it('tags: the ownership tags always, the spec\'s when it has them; written only when they differ', () => {
    const own = ownerTags(hsm());
    expect(tagsToWrite(hsm(), { x: '1', ...own })).toBeUndefined();
    // Without spec tags, Azure's other tags stay; the ownership tags are added.
    expect(tagsToWrite(hsm(), { x: '1' })).toEqual({ x: '1', ...own });
    expect(tagsToWrite(hsm({ tags: { x: '1' } }), { x: '1', ...own })).toBeUndefined();
    expect(tagsToWrite(hsm({ tags: { x: '1' } }), { x: '2', ...own })).toEqual({ x: '1', ...own });
    expect(tagsToWrite(hsm({ tags: {} }), { x: '1', ...own })).toEqual(own);
    expect(tagsToWrite(hsm({ tags: { x: '1', y: '2' } }), { x: '1', ...own })).toEqual({ x: '1', y: '2', ...own });
    // Another object's ownership tags are replaced by ours (only ever after an adoption the annotation asked for).
    expect(tagsToWrite(hsm(), { x: '1', 'dedicatedhsm.io-owner-uid': 'other' })).toEqual({ x: '1', ...own });
  });
});

describe('ownership of an existing HSM', () => {
  const state = (tags: Record<string, string>): HsmState => ({ id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs/hsm-eastus-1', name: 'hsm-eastus-1', resourceGroup: 'rg', location: 'eastus', tags });
  const withAnnotation = (value: string): DedicatedHsm => {
    const h = hsm();
    h.metadata.annotations = { 'dedicatedhsm.io/adopt': value };
    return h;
  };

  it('ours: tagged with this uid (tag names in any case); all three tags present or not', () => {
    expect(ownershipOf(hsm(), state(ownerTags(hsm())))).toEqual({ kind: 'ours', tagged: true });
    expect(ownershipOf(hsm(), state({ 'DEDICATEDHSM.IO-OWNER-UID': 'uid-1' }))).toEqual({ kind: 'ours', tagged: false });
  });

  it('not ours: no tag, or another uid; the annotation adopts it by ARM name or (any case) ARM ID, nothing else', () => {
    expect(ownershipOf(hsm(), state({}))).toEqual({ kind: 'notOurs', taggedForAnother: false });
    expect(ownershipOf(hsm(), state({ 'dedicatedhsm.io-owner-uid': 'uid-2' }))).toEqual({ kind: 'notOurs', taggedForAnother: true });
    expect(ownershipOf(withAnnotation('hsm-eastus-1'), state({}))).toEqual({ kind: 'adopt' });
    expect(ownershipOf(withAnnotation(state({}).id.toUpperCase()), state({ 'dedicatedhsm.io-owner-uid': 'uid-2' }))).toEqual({ kind: 'adopt' });
    expect(ownershipOf(withAnnotation('hsm-eastus-2'), state({}))).toEqual({ kind: 'notOurs', taggedForAnother: false });
    expect(ownershipOf(withAnnotation('true'), state({}))).toEqual({ kind: 'notOurs', taggedForAnother: false });
  });

  it('recorded in status before ownership tags existed: ours, to be tagged; not when another uid is tagged', () => {
    const h = hsm();
    h.status = { resourceId: state({}).id.toLowerCase() };
    expect(ownershipOf(h, state({}))).toEqual({ kind: 'ours', tagged: false });
    expect(ownershipOf(h, state({ 'dedicatedhsm.io-owner-uid': 'uid-2' }))).toEqual({ kind: 'notOurs', taggedForAnother: true });
  });
});
