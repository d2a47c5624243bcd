import { describe, expect, it } from 'vitest';
import type { DedicatedHsm, NtlsClientBinding } from '../../../../src/api/index.js';
import { dedicatedHsmChangeMatters, referencedHsmKeys, waitingFor } from '../../../../src/controllers/ntlsclientbinding/watches.js';

const hsm = (status: DedicatedHsm['status'] = {}, meta: Partial<DedicatedHsm['metadata']> = {}): DedicatedHsm =>
  ({ apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'DedicatedHsm', metadata: { name: 'hsm1', namespace: 'ns', generation: 1, ...meta }, spec: {} as DedicatedHsm['spec'], status }) as DedicatedHsm;
const reachable = (s: 'True' | 'False') => [{ type: 'ApplianceReachable', status: s, reason: s === 'True' ? 'Reachable' : 'ApplianceUnreachable', message: '', lastTransitionTime: '2030-01-01T00:00:00Z' }];

describe('referencedHsmKeys', () => {
  it('lists spec targets and targets still in status (pending clean-up), once each', () => {
    const b = {
      metadata: { name: 'b', namespace: 'ns' },
      spec: { targets: [{ dedicatedHsmRef: { name: 'hsm1' }, partitions: ['p'] }] },
      status: { targets: [{ dedicatedHsm: 'hsm1' }, { dedicatedHsm: 'hsm9' }] },
    } as unknown as NtlsClientBinding;
    expect(referencedHsmKeys(b)).toEqual(['ns/hsm1', 'ns/hsm9']);
  });
});

describe('dedicatedHsmChangeMatters', () => {
  it('ignores routine status writes', () => {
    expect(dedicatedHsmChangeMatters(hsm({ privateIpAddress: '10.0.2.4', appliance: { observedAt: 'a' } }), hsm({ privateIpAddress: '10.0.2.4', appliance: { observedAt: 'b' } }))).toBe(false);
  });
  it.each([
    ['a new address', hsm({ privateIpAddress: '10.0.2.5' })],
    ['a new server certificate', hsm({ appliance: { ntlsServerCertFingerprint: 'AA' } })],
    ['a spec change', hsm({}, { generation: 2 })],
    ['deletion', hsm({}, { deletionTimestamp: '2030-01-01T00:00:00Z' })],
    ['reachability', hsm({ conditions: reachable('False') })],
  ])('wakes bindings on %s', (_what, cur) => {
    expect(dedicatedHsmChangeMatters(hsm({}), cur)).toBe(true);
  });
});

describe('waitingFor', () => {
  it('waits for an HSM being deleted or with an unreachable appliance; not for one not checked yet', () => {
    expect(waitingFor(hsm())).toBeUndefined();
    expect(waitingFor(hsm({ conditions: reachable('True') }))).toBeUndefined();
    expect(waitingFor(hsm({ conditions: reachable('False') }))).toContain('not reachable');
    expect(waitingFor(hsm({}, { deletionTimestamp: 'x' }))).toContain('being deleted');
  });
});
