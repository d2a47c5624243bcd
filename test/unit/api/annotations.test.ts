import { describe, expect, it } from 'vitest';
import { Annotations, FINALIZER, MAX_TRIGGER_VALUE, TRIGGERS, TRIGGER_ANNOTATIONS, abandonRequested, credentialOptIn, deletionRequestedBy, keyMaterialLossAccepted, keyMaterialLossPhrase, reconcileMode, requestedTrigger, zeroizeConfirmed } from '../../../src/api/index.js';

describe('annotations', () => {
  it('names live under dedicatedhsm.io', () => {
    expect(FINALIZER).toBe('dedicatedhsm.io/finalizer');
    expect(Object.values(Annotations)).toEqual([
      'dedicatedhsm.io/reconcile',
      'dedicatedhsm.io/resync-now',
      'dedicatedhsm.io/repush-now',
      'dedicatedhsm.io/recover-now',
      'dedicatedhsm.io/confirm-zeroize',
      'dedicatedhsm.io/deletion-requested-by',
      'dedicatedhsm.io/accept-key-material-loss',
      'dedicatedhsm.io/abandon',
      'dedicatedhsm.io/adopt-client',
      'dedicatedhsm.io/adopt',
      'dedicatedhsm.io/credential-for',
      'dedicatedhsm.io/credential-budget-reset',
    ]);
    expect(TRIGGER_ANNOTATIONS).toEqual(['dedicatedhsm.io/resync-now', 'dedicatedhsm.io/repush-now', 'dedicatedhsm.io/recover-now']);
  });

  it('credential opt-in: only the objects the Secret names, Kind/* or * for the namespace; absent means no', () => {
    const hsm = { kind: 'DedicatedHsm' as const, name: 'hsm-a' };
    const ann = (v: string) => ({ [Annotations.credentialFor]: v });
    expect(credentialOptIn(undefined, hsm)).toBe(false);
    expect(credentialOptIn({}, hsm)).toBe(false);
    expect(credentialOptIn(ann(''), hsm)).toBe(false);
    expect(credentialOptIn(ann('DedicatedHsm/hsm-a'), hsm)).toBe(true);
    expect(credentialOptIn(ann(' HsmHaGroup/ha1 ,  DedicatedHsm/hsm-a '), hsm)).toBe(true);
    expect(credentialOptIn(ann('DedicatedHsm/*'), hsm)).toBe(true);
    expect(credentialOptIn(ann('*'), hsm)).toBe(true);
    // Another object, another kind, another case, a prefix: never widened.
    for (const v of ['DedicatedHsm/hsm-b', 'HsmHaGroup/hsm-a', 'HsmHaGroup/*', 'dedicatedhsm/hsm-a', 'DedicatedHsm/hsm', 'DedicatedHsm/hsm-a-2', 'hsm-a', 'team-a/DedicatedHsm/hsm-a']) {
      expect(credentialOptIn(ann(v), hsm), v).toBe(false);
    }
  });

  it('reconcile mode: manage by default, exactly the three values, an error naming them for anything else', () => {
    expect(reconcileMode(undefined)).toEqual({ mode: 'manage' });
    expect(reconcileMode({})).toEqual({ mode: 'manage' });
    expect(reconcileMode({ other: 'x' })).toEqual({ mode: 'manage' });
    expect(reconcileMode({ [Annotations.reconcile]: 'manage' })).toEqual({ mode: 'manage' });
    expect(reconcileMode({ [Annotations.reconcile]: 'observe' })).toEqual({ mode: 'observe' });
    expect(reconcileMode({ [Annotations.reconcile]: 'paused' })).toEqual({ mode: 'paused' });
    // A typo is never guessed at (neither as manage, which writes, nor as observe): the caller reports it and does nothing.
    for (const typo of ['pause', 'Observe', 'PAUSED', ' paused ', '', 'manage ', 'true']) {
      const bad = reconcileMode({ [Annotations.reconcile]: typo });
      expect(bad, JSON.stringify(typo)).toEqual({ error: `dedicatedhsm.io/reconcile must be one of manage, observe, paused; got ${JSON.stringify(typo)}` });
    }
  });

  it('triggers fire once per distinct non-empty value: a value already handled, an empty one or an absent one asks nothing', () => {
    const at = '2026-01-01T00:00:00Z';
    expect(requestedTrigger({ [Annotations.repushNow]: at }, Annotations.repushNow, undefined)).toEqual({ fire: at });
    expect(requestedTrigger({ [Annotations.repushNow]: at }, Annotations.repushNow, '2025-12-31T00:00:00Z')).toEqual({ fire: at });
    expect(requestedTrigger({ [Annotations.repushNow]: at }, Annotations.repushNow, at)).toBeUndefined();
    // Any token works, compared exactly (a GitOps commit may hold anything).
    expect(requestedTrigger({ [Annotations.recoverNow]: 'fixed the partition' }, Annotations.recoverNow, 'Fixed the partition')).toEqual({ fire: 'fixed the partition' });
    expect(requestedTrigger({ [Annotations.repushNow]: '' }, Annotations.repushNow, undefined)).toBeUndefined();
    expect(requestedTrigger({ [Annotations.repushNow]: at }, Annotations.recoverNow, undefined)).toBeUndefined();
    expect(requestedTrigger(undefined, Annotations.resyncNow, undefined)).toBeUndefined();
    // Too long to record means it could never be marked handled: refused, never acted on.
    const long = 'x'.repeat(MAX_TRIGGER_VALUE + 1);
    expect(requestedTrigger({ [Annotations.resyncNow]: long }, Annotations.resyncNow, undefined)).toEqual({ refused: expect.stringContaining(`more than the ${MAX_TRIGGER_VALUE}`) as string });
    expect(requestedTrigger({ [Annotations.resyncNow]: 'x'.repeat(MAX_TRIGGER_VALUE) }, Annotations.resyncNow, undefined)).toEqual({ fire: 'x'.repeat(MAX_TRIGGER_VALUE) });
  });

  it('each trigger records into its own status field and names the kinds that honour it', () => {
    expect(TRIGGERS.map((t) => [t.verb, t.annotation, t.statusField, t.kinds.join(',')])).toEqual([
      ['resync', 'dedicatedhsm.io/resync-now', 'lastHandledResyncAt', 'DedicatedHsm,NtlsClientBinding,HsmHaGroup'],
      ['repush', 'dedicatedhsm.io/repush-now', 'lastHandledRepushAt', 'NtlsClientBinding'],
      ['recover', 'dedicatedhsm.io/recover-now', 'lastHandledRecoverAt', 'HsmHaGroup'],
    ]);
  });

  it('zeroization needs the ARM name exactly', () => {
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'hsm-eastus-1' }, 'hsm-eastus-1')).toBe(true);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'HSM-EASTUS-1' }, 'hsm-eastus-1')).toBe(false);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'hsm-eastus-1 ' }, 'hsm-eastus-1')).toBe(false);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'true' }, 'hsm-eastus-1')).toBe(false);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: '' }, '')).toBe(false);
    expect(zeroizeConfirmed(undefined, 'hsm-eastus-1')).toBe(false);
  });

  it('accepting the loss of the last live copy needs the exact words naming the HSM', () => {
    expect(keyMaterialLossPhrase('hsm-eastus-1')).toBe('the key material on hsm-eastus-1 may be lost');
    expect(keyMaterialLossAccepted({ [Annotations.acceptKeyMaterialLoss]: 'the key material on hsm-eastus-1 may be lost' }, 'hsm-eastus-1')).toBe(true);
    expect(keyMaterialLossAccepted({ [Annotations.acceptKeyMaterialLoss]: 'the key material on hsm-eastus-2 may be lost' }, 'hsm-eastus-1')).toBe(false);
    expect(keyMaterialLossAccepted({ [Annotations.acceptKeyMaterialLoss]: 'true' }, 'hsm-eastus-1')).toBe(false);
    expect(keyMaterialLossAccepted({ [Annotations.acceptKeyMaterialLoss]: 'the key material on  may be lost' }, '')).toBe(false);
    expect(keyMaterialLossAccepted(undefined, 'hsm-eastus-1')).toBe(false);
  });

  it('who requested Delete: the annotation, absent when empty', () => {
    expect(deletionRequestedBy({ [Annotations.deletionRequestedBy]: 'alice' })).toBe('alice');
    expect(deletionRequestedBy({ [Annotations.deletionRequestedBy]: '' })).toBeUndefined();
    expect(deletionRequestedBy(undefined)).toBeUndefined();
  });

  it('abandon needs the literal "true"', () => {
    expect(abandonRequested({ [Annotations.abandon]: 'true' })).toBe(true);
    expect(abandonRequested({ [Annotations.abandon]: 'yes' })).toBe(false);
    expect(abandonRequested({})).toBe(false);
  });
});
