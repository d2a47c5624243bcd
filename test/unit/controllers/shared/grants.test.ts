import { describe, expect, it } from 'vitest';
import type { HsmGrant, HsmGrantSpec } from '../../../../src/api/index.js';
import { decideGrant, hsmAddress, hsmAddressOfStatusKey, partitionGranted, selectorMatches, type GrantRequest } from '../../../../src/controllers/shared/grants.js';

const grant = (name: string, over: Partial<HsmGrantSpec> = {}, namespace = 'platform'): HsmGrant => ({
  apiVersion: 'dedicatedhsm.io/v1alpha1',
  kind: 'HsmGrant',
  metadata: { name, namespace },
  spec: { namespaces: ['team-a'], kinds: ['NtlsClientBinding'], dedicatedHsms: ['hsm1'], partitions: ['team-a-*'], maxClientsPerHsm: 16, revocationPolicy: 'Orphan', ...over },
});

const request = (over: Partial<GrantRequest> = {}): GrantRequest => ({
  kind: 'NtlsClientBinding',
  namespace: 'team-a',
  uid: 'uid-1',
  createdAt: '2030-01-02T00:00:00Z',
  hsm: hsmAddress('team-a', { namespace: 'platform', name: 'hsm1' }),
  partitions: ['team-a-payments'],
  clientName: 'team-a-app',
  ...over,
});

const labels: Record<string, Record<string, string>> = { 'team-a': { tenant: 'a', tier: 'prod' }, 'team-b': { tenant: 'b' } };
const labelsOf = (ns: string) => labels[ns];

describe('hsmAddress', () => {
  it('a reference without a namespace, or with its own, stays in the namespace and needs no grant', () => {
    expect(hsmAddress('team-a', { name: 'hsm1' })).toEqual({ namespace: 'team-a', name: 'hsm1', crossNamespace: false, statusKey: 'hsm1', cacheKey: 'team-a/hsm1' });
    expect(hsmAddress('team-a', { name: 'hsm1', namespace: 'team-a' }).crossNamespace).toBe(false);
  });

  it('another namespace is listed as namespace/name, and reads back the same', () => {
    const a = hsmAddress('team-a', { name: 'hsm1', namespace: 'platform' });
    expect(a).toMatchObject({ crossNamespace: true, statusKey: 'platform/hsm1', cacheKey: 'platform/hsm1' });
    expect(hsmAddressOfStatusKey('team-a', a.statusKey)).toEqual(a);
    expect(hsmAddressOfStatusKey('team-a', 'hsm1')).toEqual(hsmAddress('team-a', { name: 'hsm1' }));
  });
});

describe('selectorMatches and partitionGranted', () => {
  it('matches labels and expressions; an empty or absent selector matches nothing', () => {
    expect(selectorMatches({ matchLabels: { tenant: 'a' } }, labels['team-a'])).toBe(true);
    expect(selectorMatches({ matchLabels: { tenant: 'a' } }, labels['team-b'])).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['prod'] }] }, labels['team-a'])).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['prod'] }] }, labels['team-a'])).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels['team-b'])).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels['team-b'])).toBe(true);
    expect(selectorMatches({}, labels['team-a'])).toBe(false);
    expect(selectorMatches(undefined, labels['team-a'])).toBe(false);
  });

  it('admits "*", exact labels and prefixes only', () => {
    expect(partitionGranted(['*'], 'anything')).toBe(true);
    expect(partitionGranted(['par0'], 'par0')).toBe(true);
    expect(partitionGranted(['par0'], 'par01')).toBe(false);
    expect(partitionGranted(['team-a-*'], 'team-a-x')).toBe(true);
    expect(partitionGranted(['team-a-*'], 'team-b-x')).toBe(false);
  });
});

describe('decideGrant', () => {
  it('same namespace: granted without looking at grants', () => {
    expect(decideGrant(request({ hsm: hsmAddress('platform', { name: 'hsm1' }), namespace: 'platform' }), [], labelsOf, [])).toEqual({ granted: true });
  });

  it('no grant: refused, saying who must grant what', () => {
    const d = decideGrant(request(), [], labelsOf, []);
    expect(d).toEqual({ granted: false, message: expect.stringContaining('No HsmGrant admits NtlsClientBinding from namespace team-a to DedicatedHsm platform/hsm1') });
    expect(d.granted === false && d.message).toContain('owners of namespace platform');
  });

  it('admits by namespace name or by selector, with the grant and its revocation policy', () => {
    expect(decideGrant(request(), [grant('team-a')], labelsOf, [])).toEqual({ granted: true, grant: { name: 'team-a', revocationPolicy: 'Orphan' } });
    const bySelector = grant('tenants', { namespaces: undefined, namespaceSelector: { matchLabels: { tenant: 'a' } }, revocationPolicy: 'Unregister' });
    expect(decideGrant(request(), [bySelector], labelsOf, [])).toEqual({ granted: true, grant: { name: 'tenants', revocationPolicy: 'Unregister' } });
    expect(decideGrant(request({ namespace: 'team-b' }), [bySelector], labelsOf, []).granted).toBe(false);
  });

  it('refuses another namespace, kind, HSM, or a grant being deleted', () => {
    expect(decideGrant(request({ namespace: 'team-b' }), [grant('g')], labelsOf, []).granted).toBe(false);
    expect(decideGrant(request({ kind: 'HsmHaGroup' }), [grant('g')], labelsOf, []).granted).toBe(false);
    expect(decideGrant(request({ hsm: hsmAddress('team-a', { namespace: 'platform', name: 'hsm2' }) }), [grant('g')], labelsOf, []).granted).toBe(false);
    const deleting = { ...grant('g'), metadata: { name: 'g', namespace: 'platform', deletionTimestamp: '2030-01-01T00:00:00Z' } };
    expect(decideGrant(request(), [deleting], labelsOf, []).granted).toBe(false);
  });

  it('refuses a partition or a client name outside the bounds, naming only what was asked', () => {
    const g = grant('g', { clientNamePrefix: 'team-a-' });
    const p = decideGrant(request({ partitions: ['team-a-payments', 'platform-root'] }), [g], labelsOf, []);
    expect(p).toEqual({ granted: false, message: expect.stringContaining('do not admit partition platform-root') });
    // The grant's other partitions are not listed.
    expect(p.granted === false && p.message).not.toContain('team-a-*');
    const n = decideGrant(request({ clientName: 'victim-app' }), [g], labelsOf, []);
    expect(n).toEqual({ granted: false, message: expect.stringContaining('client name victim-app (it must start with "team-a-")') });
  });

  it('counts older admitted uses per HSM up to maxClientsPerHsm; the newest waits', () => {
    const g = grant('g', { maxClientsPerHsm: 2 });
    const older = (i: number): GrantRequest => request({ uid: `uid-old-${i}`, createdAt: `2030-01-01T00:00:0${i}Z`, clientName: `team-a-${i}` });
    expect(decideGrant(request(), [g], labelsOf, [older(1)]).granted).toBe(true);
    const full = decideGrant(request(), [g], labelsOf, [older(1), older(2)]);
    expect(full).toEqual({ granted: false, message: expect.stringContaining('used up (at most 2 on this HSM') });
    // Uses the grant does not admit (another partition) or newer ones do not count.
    const newer = request({ uid: 'uid-new', createdAt: '2030-01-03T00:00:00Z' });
    const elsewhere = request({ uid: 'uid-else', createdAt: '2030-01-01T00:00:00Z', partitions: ['other'] });
    expect(decideGrant(request(), [g], labelsOf, [older(1), newer, elsewhere]).granted).toBe(true);
    // A second grant with room admits what the first one cannot.
    expect(decideGrant(request(), [g, grant('h', { maxClientsPerHsm: 5 })], labelsOf, [older(1), older(2)])).toEqual({ granted: true, grant: { name: 'h', revocationPolicy: 'Orphan' } });
  });
});
