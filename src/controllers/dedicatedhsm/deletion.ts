/**
 * Deleting a DedicatedHsm, decided purely. Orphan (the default) leaves Azure untouched. Delete follows the guide:
 * the resource can only go once the HSM is zeroized; the operator zeroizes only with the second key (the
 * confirm-zeroize annotation naming the ARM resource exactly) and never deletes a resource group.
 *
 * Two rules keep a tenant from faking the answer or losing a group's keys (invariant 2):
 * - zeroizeTarget: "is it zeroized?" is read, and the zeroize done, only at the NIC IP Azure reports, with the host
 *   key pinned in spec.appliance.hostKey. Never at spec.appliance.host (anyone who may edit the object could name
 *   their own SSH server there, answering "zeroized") and never under trust-on-first-use. A key recorded in status
 *   does not count: status.appliance.hostKeyFingerprint records whatever key was seen, also under trust-on-first-use,
 *   and cannot tell a pinned key from a trusted one.
 * - lastLiveCopyGroups: no zeroize of an HSM whose HA groups have no other member alive and in sync, unless
 *   dedicatedhsm.io/accept-key-material-loss says in words that the key material may be lost.
 */
import { Annotations, keyMaterialLossPhrase, type ConditionLike, type DedicatedHsm, type DeletionPolicy, type HsmHaGroup, type ReconcileMode } from '../../api/index.js';
import type { DeviceProblem } from '../shared/index.js';
import { isServing } from '../hsmhagroup/health.js';

/** Where zeroization may be read and done: the address Azure reports and the pinned key, or why not. */
export type ZeroizeTarget = { ok: true; host: string; hostKey: string } | { ok: false; reason: 'HostKeyNotPinned' | 'ApplianceUnreachable'; message: string };

/**
 * The one rule for where the deletion path talks to the appliance: `azureIp` is the NIC IP Azure reports now (the
 * resource or its NIC), never spec.appliance.host nor status; the key is spec.appliance.hostKey only.
 */
export function zeroizeTarget(hsm: Pick<DedicatedHsm, 'spec'>, azureIp: string | undefined, armName: string): ZeroizeTarget {
  const ap = hsm.spec.appliance;
  const at = azureIp ?? 'the NIC IP Azure reports';
  if (!ap.hostKey) {
    return {
      ok: false,
      reason: 'HostKeyNotPinned',
      message:
        `HSM ${armName} is not zeroized or deleted: the operator reads whether it is zeroized, and zeroizes it, only over ${at} with the SSH host key pinned in spec.appliance.hostKey, ` +
        `never under trust-on-first-use (insecureTrustOnFirstUse). Verify the appliance's host key out of band (ssh-keyscan from a trusted host on the HSM's network, checked with whoever provisioned it), ` +
        `set spec.appliance.hostKey and remove insecureTrustOnFirstUse; or zeroize the HSM yourself, delete its Azure resource, then set deletionPolicy Orphan to release this object.`,
    };
  }
  if (!azureIp) {
    return {
      ok: false,
      reason: 'ApplianceUnreachable',
      message: `HSM ${armName} is not zeroized or deleted: Azure reports no private IP for its NIC, and zeroization is read only there (never at spec.appliance.host). Checked again later.`,
    };
  }
  return { ok: true, host: azureIp, hostKey: ap.hostKey };
}

/**
 * HA groups in which this HSM holds the only live copy of the key material: the HSM is a declared member and no
 * member on another DedicatedHsm is serving (alive or standby: Luna keeps standby members replicated) while the
 * group reports it needs no synchronisation. What the status cannot tell (no members, a member without its
 * DedicatedHsm, needsSync unknown) counts as no other live copy.
 */
export function lastLiveCopyGroups(hsmName: string, namespace: string, groups: readonly HsmHaGroup[]): string[] {
  const out: string[] = [];
  for (const g of groups) {
    // A reference names its namespace when it crosses one (grants); otherwise it is the group's own.
    const refersHere = (ref: { name: string; namespace?: string }) => ref.name === hsmName && (ref.namespace ?? g.metadata.namespace) === namespace;
    if (!g.spec.members.some((m) => refersHere(m.dedicatedHsmRef))) continue;
    const inSync = g.status?.needsSync === false;
    // The group's status names this HSM as it refers to it: the name alone in its own namespace, else namespace/name.
    const self = g.metadata.namespace === namespace ? hsmName : `${namespace}/${hsmName}`;
    const otherLive = (g.status?.members ?? []).some((m) => m.dedicatedHsm !== undefined && m.dedicatedHsm !== self && isServing(m.state));
    if (!(inSync && otherLive)) out.push(g.metadata.namespace === namespace ? (g.metadata.name ?? '') : `${g.metadata.namespace ?? ''}/${g.metadata.name ?? ''}`);
  }
  return out.sort();
}

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
  /** Where zeroization may be read (zeroizeTarget); when refused, `zeroized` was not read. Absent: not needed (gone, Failed). */
  target?: ZeroizeTarget;
  /** HA groups in which this HSM holds the last live copy of the key material (lastLiveCopyGroups). */
  lastLiveCopyOf?: readonly string[];
  /** dedicatedhsm.io/accept-key-material-loss holds keyMaterialLossPhrase(ARM name). */
  keyMaterialLossAccepted?: boolean;
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
  if (i.target && !i.target.ok) return { kind: 'blocked', condition: blocked(i.target.reason, i.target.message) };
  if (i.zeroized === true) return { kind: 'deleteResource' };
  if (i.zeroized === undefined) {
    return { kind: 'blocked', condition: blocked('DeletionBlocked', `hsm show did not say whether HSM ${armName} is zeroized; the resource is not deleted. ${procedure(armName)}`) };
  }
  if (typeof i.zeroized === 'object') {
    const reason = i.zeroized.reason === 'CredentialRejected' || i.zeroized.reason === 'HostKeyMismatch' ? 'CredentialRejected' : 'ApplianceUnreachable';
    return { kind: 'blocked', condition: blocked(reason, `Cannot read whether HSM ${armName} is zeroized, so it is not deleted: ${i.zeroized.message}`) };
  }
  const lastCopy = i.lastLiveCopyOf ?? [];
  if (i.confirmed) {
    if (lastCopy.length && !i.keyMaterialLossAccepted) return { kind: 'blocked', condition: blocked('LastLiveCopy', lastCopyMessage(armName, lastCopy)) };
    return { kind: 'zeroize' };
  }
  const warning = lastCopy.length ? ` ${lastCopyMessage(armName, lastCopy)}` : '';
  return { kind: 'blocked', condition: blocked('DeletionBlocked', `HSM ${armName} is not zeroized, so its Azure resource cannot be deleted (deletionPolicy Delete). ${procedure(armName)}${warning}`) };
}

/** What a human must know and do before the last live copy of a group's key material is destroyed. */
export function lastCopyMessage(armName: string, groups: readonly string[]): string {
  const names = groups.map((g) => `HsmHaGroup ${g}`).join(', ');
  return (
    `HSM ${armName} holds the only live copy of the key material of ${names}: no other member is alive and in sync, so zeroizing it may lose those keys for good. ` +
    `Bring another member back and synchronise the group first (the group's status then shows it alive with needsSync false); ` +
    `or, to accept the loss, set the annotation ${Annotations.acceptKeyMaterialLoss} to exactly "${keyMaterialLossPhrase(armName)}".`
  );
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
