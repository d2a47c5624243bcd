/**
 * Deleting a DedicatedHsm, decided purely. Orphan (the default) leaves Azure untouched. Delete follows the guide:
 * the resource can only go once the HSM is zeroized; the operator zeroizes only with the second key (the
 * confirm-zeroize annotation naming the ARM resource exactly) and never deletes a resource group.
 */
import type { ConditionLike, DeletionPolicy, ReconcileMode } from '../../api/index.js';
import type { DeviceProblem } from '../shared/index.js';

export interface DeletionInput {
  policy: DeletionPolicy;
  mode: ReconcileMode;
  /** Whether the ARM resource exists. */
  resourceExists: boolean;
  /** The resource exists but never came up (Failed): no appliance holds key material for it. */
  resourceFailed: boolean;
  /** What `hsm show` said; a problem when it could not be read. */
  zeroized: boolean | DeviceProblem | undefined;
  /** dedicatedhsm.io/confirm-zeroize equals the ARM resource name. */
  confirmed: boolean;
}

export type DeletionStep =
  /** Remove the finalizer, Azure untouched. */
  | { kind: 'release'; why: 'orphan' | 'observe' | 'gone' }
  /** Delete the ARM resource (it is zeroized, or it never held an appliance). */
  | { kind: 'deleteResource' }
  /** Zeroize by failed HSM SO logins (the second key is present), verify, then delete. */
  | { kind: 'zeroize' }
  /** Wait for a human: DeletionBlocked=True with this condition. */
  | { kind: 'blocked'; condition: ConditionLike };

export function decideDeletion(i: DeletionInput, armName: string): DeletionStep {
  if (i.mode === 'observe') return { kind: 'release', why: 'observe' };
  if (i.policy === 'Orphan') return { kind: 'release', why: 'orphan' };
  if (!i.resourceExists) return { kind: 'release', why: 'gone' };
  if (i.resourceFailed) return { kind: 'deleteResource' };
  if (i.zeroized === true) return { kind: 'deleteResource' };
  if (i.zeroized === undefined) {
    return { kind: 'blocked', condition: blocked('DeletionBlocked', `hsm show did not say whether HSM ${armName} is zeroized; the resource is not deleted. ${procedure(armName)}`) };
  }
  if (typeof i.zeroized === 'object') {
    const reason = i.zeroized.reason === 'CredentialRejected' || i.zeroized.reason === 'HostKeyMismatch' ? 'CredentialRejected' : 'ApplianceUnreachable';
    return { kind: 'blocked', condition: blocked(reason, `Cannot read whether HSM ${armName} is zeroized, so it is not deleted: ${i.zeroized.message}`) };
  }
  if (i.confirmed) return { kind: 'zeroize' };
  return { kind: 'blocked', condition: blocked('DeletionBlocked', `HSM ${armName} is not zeroized, so its Azure resource cannot be deleted (deletionPolicy Delete). ${procedure(armName)}`) };
}

/** The guide's procedure, and how to hand the operator the second key. */
export function procedure(armName: string): string {
  return (
    `To delete it: 1. zeroize the HSM (irreversible: all key material is lost) by getting the HSM SO (admin) password wrong three times with 'hsm login', ` +
    `or let the operator do exactly that by setting the annotation dedicatedhsm.io/confirm-zeroize=${armName}; 2. the operator then deletes the HSM resource; ` +
    `3. only after that delete the resource group if you want to. NEVER delete the resource group first: the HSM would be orphaned and still billed. ` +
    `To keep the HSM instead, set spec.deletionPolicy to Orphan.`
  );
}

function blocked(reason: string, message: string): ConditionLike {
  return { type: 'DeletionBlocked', status: 'True', reason, message };
}

export const NOT_BLOCKED: ConditionLike = { type: 'DeletionBlocked', status: 'False', reason: 'NotBlocked', message: 'Nothing blocks deletion.' };
