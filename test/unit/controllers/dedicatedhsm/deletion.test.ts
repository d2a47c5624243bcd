/**
 * Deletion decisions: Orphan leaves Azure alone; Delete needs zeroized; zeroize only with the exact second key, only
 * where Azure says the appliance is and with the pinned key, and never the last live copy of a group's keys unless
 * that loss is accepted in words.
 */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm, HsmHaGroup } from '../../../../src/api/index.js';
import { decideDeletion, lastLiveCopyGroups, procedure, zeroizeTarget, type DeletionInput } from '../../../../src/controllers/dedicatedhsm/deletion.js';

const base: DeletionInput = { policy: 'Delete', mode: 'manage', resourceExists: true, resourceFailed: false, zeroized: false, confirmed: false };

describe('decideDeletion', () => {
  it('Orphan and observe mode release the finalizer, whatever the appliance says', () => {
    expect(decideDeletion({ ...base, policy: 'Orphan' }, 'hsm1')).toEqual({ kind: 'release', why: 'orphan' });
    expect(decideDeletion({ ...base, policy: 'Orphan', confirmed: true }, 'hsm1')).toEqual({ kind: 'release', why: 'orphan' });
    expect(decideDeletion({ ...base, mode: 'observe', confirmed: true }, 'hsm1')).toEqual({ kind: 'release', why: 'observe' });
  });

  it('nothing in Azure: release', () => {
    expect(decideDeletion({ ...base, resourceExists: false }, 'hsm1')).toEqual({ kind: 'release', why: 'gone' });
  });

  it('zeroized, or a failed resource without an appliance: delete the resource', () => {
    expect(decideDeletion({ ...base, zeroized: true }, 'hsm1')).toEqual({ kind: 'deleteResource' });
    expect(decideDeletion({ ...base, resourceFailed: true, zeroized: undefined }, 'hsm1')).toEqual({ kind: 'deleteResource' });
  });

  it('not zeroized and no key: blocked, with the guide procedure', () => {
    const step = decideDeletion(base, 'hsm1');
    expect(step.kind).toBe('blocked');
    if (step.kind !== 'blocked') return;
    expect(step.condition).toMatchObject({ type: 'DeletionBlocked', status: 'True', reason: 'DeletionBlocked' });
    expect(step.condition.message).toContain(procedure('hsm1'));
  });

  it('not zeroized with the key: zeroize', () => {
    expect(decideDeletion({ ...base, confirmed: true }, 'hsm1')).toEqual({ kind: 'zeroize' });
  });

  it('the zeroization state unknown: never zeroize, even with the key', () => {
    const unreadable = decideDeletion({ ...base, confirmed: true, zeroized: { reason: 'ApplianceUnreachable', message: 'timeout', needsHuman: false } }, 'hsm1');
    expect(unreadable).toMatchObject({ kind: 'blocked', condition: { reason: 'ApplianceUnreachable' } });
    const rejected = decideDeletion({ ...base, confirmed: true, zeroized: { reason: 'HostKeyMismatch', message: 'changed', needsHuman: true } }, 'hsm1');
    expect(rejected).toMatchObject({ kind: 'blocked', condition: { reason: 'CredentialRejected' } });
    expect(decideDeletion({ ...base, confirmed: true, zeroized: undefined }, 'hsm1')).toMatchObject({ kind: 'blocked', condition: { reason: 'DeletionBlocked' } });
  });

  it('the procedure: three wrong HSM SO logins, irreversible, the annotation, never the resource group first', () => {
    const p = procedure('hsm-eastus-1');
    expect(p).toMatch(/three times with 'hsm login'/);
    expect(p).toMatch(/irreversible: all key material is lost/);
    expect(p).toContain('dedicatedhsm.io/confirm-zeroize=hsm-eastus-1');
    expect(p).toMatch(/NEVER delete the resource group first/);
  });
});

describe('zeroizeTarget', () => {
  const spec = (appliance: Partial<DedicatedHsm['spec']['appliance']>): Pick<DedicatedHsm, 'spec'> =>
    ({ spec: { appliance: { port: 22, username: 'tenantadmin', credentialsRef: { name: 's', key: 'password' }, ntlsPort: 1792, insecureTrustOnFirstUse: false, ...appliance } } }) as Pick<DedicatedHsm, 'spec'>;

  it('the NIC IP Azure reports and the spec\'s pinned key; spec.appliance.host plays no part', () => {
    expect(zeroizeTarget(spec({ hostKey: 'SHA256:abc', host: '10.66.6.6' }), '10.0.2.4', 'hsm1')).toEqual({ ok: true, host: '10.0.2.4', hostKey: 'SHA256:abc' });
  });

  it('no pinned key (trust-on-first-use): refused, saying what to pin and the way out by hand', () => {
    const t = zeroizeTarget(spec({ insecureTrustOnFirstUse: true }), '10.0.2.4', 'hsm1');
    expect(t).toMatchObject({ ok: false, reason: 'HostKeyNotPinned' });
    if (t.ok) return;
    expect(t.message).toContain('spec.appliance.hostKey');
    expect(t.message).toContain('10.0.2.4');
    expect(t.message).toMatch(/remove insecureTrustOnFirstUse/);
    expect(t.message).toMatch(/zeroize the HSM yourself/);
  });

  it('no address from Azure: refused, never falling back to spec.appliance.host', () => {
    expect(zeroizeTarget(spec({ hostKey: 'SHA256:abc', host: '10.66.6.6' }), undefined, 'hsm1')).toMatchObject({ ok: false, reason: 'ApplianceUnreachable', message: expect.stringContaining('never at spec.appliance.host') });
  });

  it('decideDeletion blocks on a refused target whatever else it is told', () => {
    const target = zeroizeTarget(spec({}), '10.0.2.4', 'hsm1');
    expect(decideDeletion({ ...base, confirmed: true, zeroized: true, target }, 'hsm1')).toMatchObject({ kind: 'blocked', condition: { reason: 'HostKeyNotPinned' } });
    // A resource that never came up has no appliance to ask.
    expect(decideDeletion({ ...base, resourceFailed: true, target }, 'hsm1')).toEqual({ kind: 'deleteResource' });
  });
});

describe('the last live copy of an HA group\'s key material', () => {
  const group = (name: string, members: string[], status: HsmHaGroup['status'], namespace = 'ns'): HsmHaGroup =>
    ({ metadata: { name, namespace }, spec: { members: members.map((m) => ({ dedicatedHsmRef: { name: m }, partitionLabel: 'p' })) }, ...(status ? { status } : {}) }) as HsmHaGroup;

  it('counts only another DedicatedHsm\'s serving member in a group that needs no sync', () => {
    const alive = { members: [{ dedicatedHsm: 'hsm1', state: 'alive' }, { dedicatedHsm: 'hsm2', state: 'alive' }], needsSync: false };
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm1', 'hsm2'], alive)])).toEqual([]);
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm1', 'hsm2'], { ...alive, needsSync: true })])).toEqual(['g']);
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm1', 'hsm2'], { members: alive.members })])).toEqual(['g']);
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm1', 'hsm2'], { members: [{ dedicatedHsm: 'hsm2', state: 'down' }], needsSync: false })])).toEqual(['g']);
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm1', 'hsm2'], { members: [{ dedicatedHsm: 'hsm2', state: 'standby' }], needsSync: false })])).toEqual([]);
    // Two partitions of this HSM are no second copy; a member of unknown HSM could be on this one.
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm1'], { members: [{ dedicatedHsm: 'hsm1', state: 'alive' }, { serial: '9', state: 'alive' }], needsSync: false })])).toEqual(['g']);
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm1', 'hsm2'], undefined)])).toEqual(['g']);
  });

  it('ignores groups this HSM is not in, and same-named HSMs of other namespaces; a reference across namespaces counts', () => {
    expect(lastLiveCopyGroups('hsm1', 'ns', [group('g', ['hsm2'], undefined), group('h', ['hsm1'], undefined, 'other')])).toEqual([]);
    const across = group('x', ['hsm2'], undefined, 'other');
    across.spec.members.push({ dedicatedHsmRef: { name: 'hsm1', namespace: 'ns' } as { name: string }, partitionLabel: 'p' });
    expect(lastLiveCopyGroups('hsm1', 'ns', [across])).toEqual(['other/x']);
    // That group's status names this HSM as ns/hsm1: it is not another live copy of itself.
    across.status = { members: [{ dedicatedHsm: 'ns/hsm1', state: 'alive' }], needsSync: false } as HsmHaGroup['status'];
    expect(lastLiveCopyGroups('hsm1', 'ns', [across])).toEqual(['other/x']);
    across.status = { members: [{ dedicatedHsm: 'ns/hsm1', state: 'alive' }, { dedicatedHsm: 'hsm2', state: 'alive' }], needsSync: false } as HsmHaGroup['status'];
    expect(lastLiveCopyGroups('hsm1', 'ns', [across])).toEqual([]);
  });

  it('decideDeletion: the confirm alone does not zeroize the last copy; the phrase does; unconfirmed, the warning is told up front', () => {
    const last = { ...base, confirmed: true, lastLiveCopyOf: ['payments'] };
    const step = decideDeletion(last, 'hsm1');
    expect(step).toMatchObject({ kind: 'blocked', condition: { reason: 'LastLiveCopy' } });
    if (step.kind === 'blocked') expect(step.condition.message).toContain('dedicatedhsm.io/accept-key-material-loss to exactly "the key material on hsm1 may be lost"');
    expect(decideDeletion({ ...last, keyMaterialLossAccepted: true }, 'hsm1')).toEqual({ kind: 'zeroize' });
    const unconfirmed = decideDeletion({ ...last, confirmed: false }, 'hsm1');
    expect(unconfirmed).toMatchObject({ kind: 'blocked', condition: { reason: 'DeletionBlocked', message: expect.stringContaining('only live copy of the key material of HsmHaGroup payments') } });
    // Already zeroized: nothing left to lose.
    expect(decideDeletion({ ...last, zeroized: true }, 'hsm1')).toEqual({ kind: 'deleteResource' });
  });
});
