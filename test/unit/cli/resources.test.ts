/** Kind names as users type them; rows and condition lines as status and the sandbox print them. */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm, HsmHaGroup, NtlsClientBinding } from '../../../src/api/index.js';
import { conditionMark, formatConditions, formatTable, isReady, resolveKind, rowOf, sortObjects } from '../../../src/cli/resources.js';

const cond = (type: string, status: string, reason: string, message = '') => ({ type, status, reason, message, lastTransitionTime: '2024-01-01T00:00:00Z' });

const hsm = {
  apiVersion: 'dedicatedhsm.io/v1alpha1',
  kind: 'DedicatedHsm',
  metadata: { name: 'hsm-eastus-1', namespace: 'a', generation: 2 },
  spec: { azure: { stampId: 'stamp1' } },
  status: {
    observedGeneration: 2,
    provisioningState: 'Succeeded',
    privateIpAddress: '10.0.2.4',
    attempts: 2,
    conditions: [cond('Ready', 'False', 'CredentialRejected', 'The appliance rejected the password of Secret x.'), cond('ApplianceReachable', 'False', 'CredentialRejected'), cond('SubnetDelegated', 'True', 'Delegated')],
  },
} as unknown as DedicatedHsm;

const binding = {
  apiVersion: 'dedicatedhsm.io/v1alpha1',
  kind: 'NtlsClientBinding',
  metadata: { name: 'app-a', namespace: 'a', generation: 3 },
  spec: { clientName: 'app-a', targets: [{ dedicatedHsmRef: { name: 'hsm-eastus-1' } }, { dedicatedHsmRef: { name: 'hsm-eastus-2' } }] },
  status: { observedGeneration: 2, conditions: [cond('Ready', 'True', 'Ready'), cond('InSync', 'True', 'InSync')] },
} as unknown as NtlsClientBinding;

const group = {
  apiVersion: 'dedicatedhsm.io/v1alpha1',
  kind: 'HsmHaGroup',
  metadata: { name: 'payments-ha', namespace: 'a', generation: 1 },
  spec: { label: 'paymentsHA', members: [{}, {}] },
  status: { observedGeneration: 1, aliveMembers: 2, conditions: [cond('Ready', 'True', 'Ready')] },
} as unknown as HsmHaGroup;

describe('kind names', () => {
  it('accepts kinds, plurals, singulars, short names and the group suffix, case-insensitively', () => {
    for (const t of ['DedicatedHsm', 'dedicatedhsms', 'dedicatedhsm', 'dhsm', 'DHSM', 'dedicatedhsms.dedicatedhsm.io']) expect(resolveKind(t), t).toBe('DedicatedHsm');
    for (const t of ['NtlsClientBinding', 'ntlsb', 'ntlsclientbindings']) expect(resolveKind(t), t).toBe('NtlsClientBinding');
    for (const t of ['HsmHaGroup', 'hsmha', 'hsmhagroups']) expect(resolveKind(t), t).toBe('HsmHaGroup');
    expect(resolveKind('hsm')).toBeUndefined();
    expect(resolveKind('pods')).toBeUndefined();
  });
});

describe('rows', () => {
  it('show READY, REASON and the key fields of each kind', () => {
    expect(rowOf(hsm)).toEqual({
      kind: 'DedicatedHsm',
      namespace: 'a',
      name: 'hsm-eastus-1',
      ready: 'False',
      reason: 'CredentialRejected',
      message: 'The appliance rejected the password of Secret x.',
      details: 'provisioning=Succeeded ip=10.0.2.4 stamp=stamp1 attempts=2',
    });
    expect(rowOf(binding).details).toBe('client=app-a in-sync=True targets=hsm-eastus-1,hsm-eastus-2');
    expect(rowOf(group).details).toBe('label=paymentsHA alive=2/2');
  });

  it('marks a Ready from an older generation as stale, and does not count it as ready', () => {
    expect(rowOf(binding).reason).toBe('Ready (stale)');
    expect(isReady(binding)).toBe(false);
    expect(isReady(group)).toBe(true);
    expect(isReady(hsm)).toBe(false);
  });

  it('sorts like kubectl get dhsm,ntlsb,hsmha and pads columns; messages go under unready rows', () => {
    const sorted = sortObjects([group, binding, hsm]);
    expect(sorted.map((o) => o.kind)).toEqual(['DedicatedHsm', 'NtlsClientBinding', 'HsmHaGroup']);
    const lines = formatTable(sorted.map(rowOf), { messageWidth: 40, namespaces: true });
    expect(lines[0]).toMatch(/^NAMESPACE\s+KIND\/NAME\s+READY\s+REASON\s+DETAILS$/);
    expect(lines[1]).toMatch(/^a\s+DedicatedHsm\/hsm-eastus-1\s+False\s+CredentialRejected\s+provisioning=Succeeded/);
    expect(lines[2]).toBe('    The appliance rejected the password…');
    expect(lines).toHaveLength(5);
    // Columns line up.
    expect(lines[0]?.indexOf('READY')).toBe(lines[1]?.indexOf('False'));
    expect(lines[3]?.indexOf('True')).toBe(lines[1]?.indexOf('False'));
    expect(lines[4]?.indexOf('label=')).toBe(lines[1]?.indexOf('provisioning='));
  });
});

describe('conditions', () => {
  it('marks by the condition polarity: DeletionBlocked and Stalled are fine when False, Reconciling=True is in progress', () => {
    expect(conditionMark({ type: 'Provisioned', status: 'True' })).toBe('ok');
    expect(conditionMark({ type: 'Provisioned', status: 'False' })).toBe('bad');
    expect(conditionMark({ type: 'DeletionBlocked', status: 'False' })).toBe('ok');
    expect(conditionMark({ type: 'DeletionBlocked', status: 'True' })).toBe('bad');
    expect(conditionMark({ type: 'Stalled', status: 'True' })).toBe('bad');
    expect(conditionMark({ type: 'Reconciling', status: 'True' })).toBe('unknown');
    expect(conditionMark({ type: 'GatewayReady', status: 'Unknown' })).toBe('unknown');
  });

  it('prints conditions in the documented order of the kind', () => {
    const lines = formatConditions(hsm);
    expect(lines.map((l) => l.trim().split(/\s+/)[1])).toEqual(['SubnetDelegated', 'ApplianceReachable', 'Ready']);
    expect(lines[1]).toMatch(/^ {2}✗ ApplianceReachable\s+False\s+CredentialRejected$/);
  });
});
