/** Deletion decisions: Orphan leaves Azure alone; Delete needs zeroized; zeroize only with the exact second key. */
import { describe, expect, it } from 'vitest';
import { decideDeletion, procedure, type DeletionInput } from '../../../../src/controllers/dedicatedhsm/deletion.js';

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
