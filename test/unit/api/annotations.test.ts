import { describe, expect, it } from 'vitest';
import { Annotations, FINALIZER, TRIGGER_ANNOTATIONS, abandonRequested, hasTrigger, reconcileMode, zeroizeConfirmed } from '../../../src/api/index.js';

describe('annotations', () => {
  it('names live under dedicatedhsm.io', () => {
    expect(FINALIZER).toBe('dedicatedhsm.io/finalizer');
    expect(Object.values(Annotations)).toEqual([
      'dedicatedhsm.io/reconcile',
      'dedicatedhsm.io/resync-now',
      'dedicatedhsm.io/repush-now',
      'dedicatedhsm.io/recover-now',
      'dedicatedhsm.io/confirm-zeroize',
      'dedicatedhsm.io/abandon',
    ]);
    expect(TRIGGER_ANNOTATIONS).toEqual(['dedicatedhsm.io/resync-now', 'dedicatedhsm.io/repush-now', 'dedicatedhsm.io/recover-now']);
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

  it('triggers fire on presence, whatever the value', () => {
    expect(hasTrigger({ [Annotations.repushNow]: '' }, Annotations.repushNow)).toBe(true);
    expect(hasTrigger({ [Annotations.repushNow]: '2026-01-01' }, Annotations.recoverNow)).toBe(false);
    expect(hasTrigger(undefined, Annotations.resyncNow)).toBe(false);
  });

  it('zeroization needs the ARM name exactly', () => {
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'hsm-eastus-1' }, 'hsm-eastus-1')).toBe(true);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'HSM-EASTUS-1' }, 'hsm-eastus-1')).toBe(false);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'hsm-eastus-1 ' }, 'hsm-eastus-1')).toBe(false);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: 'true' }, 'hsm-eastus-1')).toBe(false);
    expect(zeroizeConfirmed({ [Annotations.confirmZeroize]: '' }, '')).toBe(false);
    expect(zeroizeConfirmed(undefined, 'hsm-eastus-1')).toBe(false);
  });

  it('abandon needs the literal "true"', () => {
    expect(abandonRequested({ [Annotations.abandon]: 'true' })).toBe(true);
    expect(abandonRequested({ [Annotations.abandon]: 'yes' })).toBe(false);
    expect(abandonRequested({})).toBe(false);
  });
});
