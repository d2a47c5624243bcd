/**
 * Finalize: a DedicatedHsm being deleted, in the same three phases as a converge pass. Orphan (the default) and
 * observe mode release the finalizer with Azure untouched. Delete: observe (the operation in flight, the resource,
 * and whether the appliance says it is zeroized, asked only at the NIC IP Azure reports with the pinned key, and
 * the HA groups the HSM may hold the last live copy for) -> decide (decideDeletion in deletion.ts, pure) -> act
 * (zeroize behind the second key, then delete the resource; never the resource group). The zeroize and delete
 * Events name the confirm annotation and who requested Delete (dedicatedhsm.io/deletion-requested-by).
 */
import { Annotations, deletionRequestedBy, keyMaterialLossAccepted, zeroizeConfirmed, type Condition, type DedicatedHsm, type ReconcileMode } from '../../api/index.js';
import type { AzurePlane, DeleteProgress, HsmState } from '../../azure/index.js';
import type { HsmShow } from '../../luna/index.js';
import { getCondition, RetryableError, type ReconcileOutcome } from '../../runtime/index.js';
import { applianceAccess, describeDeviceError, withAppliance, type DeviceProblem, type SecretReads } from '../shared/index.js';
import type { ApplianceAccess } from '../shared/appliance.js';
import type { Checkpoint } from './act.js';
import { azureAccess } from './credentials.js';
import { ownerOfResource } from './duplicates.js';
import { operationStillRuns } from './decide.js';
import { decideDeletion, lastLiveCopyGroups, zeroizeTarget, type DeletionStep, type ZeroizeTarget } from './deletion.js';
import { type LastFailure } from './deployment.js';
import { armName } from './desired.js';
import { failureOf, read, readOperation, settle, type HsmEnv, type Settlement } from './observe.js';
import { ownershipOf } from './ownership.js';
import { Pass } from './pass.js';
import type { Read } from './preflight.js';
import { roundOf } from './record.js';
import { afterFailureMs, pollMs, resyncMs } from './timing.js';

/** finalize's answer when the finalizer may go. */
export const RELEASE = Symbol('release');

interface DeletionObservation {
  /** Our delete in flight (status.pendingOperation kind delete). */
  deleting?: Read<DeleteProgress>;
  /** A create still in flight: let it finish first (then it can be zeroized and deleted). */
  creating?: Settlement;
  resource?: Read<HsmState | undefined>;
  /** Where zeroization may be read: the NIC IP Azure reports with the pinned key (zeroizeTarget), or why not. */
  target?: ZeroizeTarget;
  /** The object as the deletion path reaches its appliance: no host override, the pinned key, the Azure IP. */
  view?: DedicatedHsm;
  /** HA groups in which this HSM holds the last live copy of the key material. */
  lastLiveCopyOf?: string[];
  /** The resource exists and is not this object's (ownership.ts): it is never zeroized or deleted. */
  notOurs?: boolean;
  /** The appliance of a Succeeded resource: how it was reached and what `hsm show` said. */
  access?: ApplianceAccess;
  show?: HsmShow;
  zeroized?: boolean | DeviceProblem;
}

export async function finalize(env: HsmEnv, input: DedicatedHsm, mode: Exclude<ReconcileMode, 'paused'>, secrets: SecretReads, pass: Pass, checkpoint: Checkpoint, signal: AbortSignal): Promise<ReconcileOutcome | typeof RELEASE> {
  const ctx = env.ctx;
  const hsm = input;
  const name = armName(hsm);
  if (mode === 'observe' || hsm.spec.deletionPolicy === 'Orphan') {
    pass.event(
      'Normal',
      'Orphaned',
      mode === 'observe'
        ? `Observe mode: the finalizer is removed; Azure HSM ${name} is left untouched.`
        : `deletionPolicy Orphan: Azure HSM ${name} stays in Azure untouched (to delete it, zeroize it and delete the resource, or use deletionPolicy Delete).`,
      'Delete',
    );
    return RELEASE;
  }
  if (ownerOfResource(hsm, env.claimants(hsm), ctx.tenancy)) {
    // A duplicate never managed the Azure HSM: its deletion touches nothing there.
    pass.event('Normal', 'Orphaned', `Azure HSM ${name} is managed by an older DedicatedHsm, not by this one: it is left untouched; the finalizer is removed.`, 'Delete');
    return RELEASE;
  }
  const az = await azureAccess(ctx, hsm, secrets);
  if (!az.ok) {
    const message = az.reason === 'NotPermitted' ? `${az.message} The HSM is not deleted; with deletionPolicy Orphan the object goes and Azure is left as it is.` : `${az.message} The HSM cannot be deleted without Azure access.`;
    pass.condition({ type: 'DeletionBlocked', status: 'True', reason: az.reason === 'NotPermitted' ? 'NotPermitted' : 'DeletionBlocked', message });
    return undefined;
  }
  const plane = az.plane.withSignal(signal);
  const obs = await observeDeletion(env, hsm, plane, secrets, signal);
  const step = decideFinalize(env, hsm, mode, obs, pass);
  return actFinalize(env, hsm, step, obs, plane, pass, checkpoint, signal);
}

async function observeDeletion(env: HsmEnv, hsm: DedicatedHsm, plane: AzurePlane, secrets: SecretReads, signal: AbortSignal): Promise<DeletionObservation> {
  const a = hsm.spec.azure;
  const name = armName(hsm);
  const obs: DeletionObservation = {};
  const op = hsm.status?.pendingOperation;
  if (op) {
    // Our delete resumes; a create is let finish. The poll reads as observe.ts reads it for a converge pass.
    const r = await readOperation(plane, hsm, op.kind, op.token);
    if (r.kind === 'delete') {
      obs.deleting = r.poll;
      if (r.poll.ok ? !r.poll.value.done : r.poll.failure.retryable) return obs;
    } else {
      obs.creating = settle(r);
      if (obs.creating.kind === 'creating') return obs;
    }
  }
  obs.resource = await read(() => plane.getHsm(a.subscriptionId, a.resourceGroup, name));
  if (!obs.resource.ok) return obs;
  const existing = obs.resource.value;
  if (existing && ownershipOf(hsm, existing).kind === 'notOurs') {
    obs.notOurs = true;
    return obs;
  }
  if (existing?.provisioningState !== 'Succeeded') return obs;
  // Is it zeroized? Only the appliance can say (hsm show), asked only where Azure says it is, with the pinned key.
  obs.target = zeroizeTarget(hsm, await nicIp(plane, existing), name);
  if (!obs.target.ok) return obs;
  obs.lastLiveCopyOf = lastLiveCopyGroups(hsm.metadata.name ?? '', hsm.metadata.namespace ?? 'default', env.ctx.caches.haGroups.list());
  const view = verifiedView(hsm, obs.target);
  obs.view = view;
  const access = await applianceAccess(env.ctx, view, secrets, signal);
  if (!access.ok) {
    obs.zeroized = { reason: 'ApplianceUnreachable', message: access.message, needsHuman: access.reason !== 'NotProvisioned' };
    return obs;
  }
  obs.access = access;
  try {
    obs.show = await withAppliance(env.ctx, view, access, (ap) => ap.show());
    obs.zeroized = obs.show.zeroized;
  } catch (e) {
    obs.zeroized = describeDeviceError(e, `appliance ${access.advertisedHost}`);
  }
  return obs;
}

/** The NIC IP Azure reports now: the resource's, else its NIC's (never status, never the spec). */
async function nicIp(plane: AzurePlane, existing: HsmState): Promise<string | undefined> {
  if (existing.privateIpAddress) return existing.privateIpAddress;
  if (!existing.nicId) return undefined;
  const nicId = existing.nicId;
  const nic = await read(() => plane.getNic(nicId));
  return nic.ok ? nic.value?.privateIpAddress : undefined;
}

/**
 * The object as the deletion path dials it: spec.appliance.host dropped (the Azure IP stands in status, where
 * applianceAccess looks next), the key pinned from the spec, trust-on-first-use off.
 */
function verifiedView(hsm: DedicatedHsm, target: Extract<ZeroizeTarget, { ok: true }>): DedicatedHsm {
  const { host: _override, ...appliance } = hsm.spec.appliance;
  return {
    ...hsm,
    spec: { ...hsm.spec, appliance: { ...appliance, hostKey: target.hostKey, insecureTrustOnFirstUse: false } },
    status: { ...(hsm.status ?? {}), privateIpAddress: target.host },
  };
}

/** Who asked for Delete, for Events: the annotation's value (quoted: it is user input), or that none is recorded. */
function requestedBy(hsm: DedicatedHsm): string {
  const who = deletionRequestedBy(hsm.metadata.annotations);
  return who === undefined ? `requester not recorded (no ${Annotations.deletionRequestedBy})` : `requested by ${JSON.stringify(who.slice(0, 253))} (${Annotations.deletionRequestedBy})`;
}

/** What a finalize pass does next. */
type FinalizeStep =
  | DeletionStep
  | { kind: 'releaseNotOurs' }
  | { kind: 'wait'; message: string; requeueAfter: number }
  | { kind: 'retry'; message: string; error: string; retryAfterMs: number | undefined };

function decideFinalize(env: HsmEnv, hsm: DedicatedHsm, mode: Exclude<ReconcileMode, 'paused'>, obs: DeletionObservation, pass: Pass): FinalizeStep {
  const s = env.ctx.settings;
  const name = armName(hsm);
  const op = hsm.status?.pendingOperation;
  const poll = pollMs(s, hsm, pass.now.getTime());
  // An operation in flight first: a delete resumes; a create is let finish.
  if (obs.deleting) {
    const d = obs.deleting;
    if (d.ok && !d.value.done) return { kind: 'wait', message: `Deleting Azure HSM ${name} (since ${op?.startedAt ?? pass.nowIso}).`, requeueAfter: poll };
    if (!d.ok) {
      if (d.failure.retryable) return { kind: 'wait', message: `Deleting Azure HSM ${name}: polling failed (${d.failure.message}); retrying.`, requeueAfter: Math.max(d.failure.retryAfterMs ?? 0, poll) };
      // The resource is read again and the decision made afresh.
      pass.clear('pendingOperation');
    }
  } else if (obs.creating && operationStillRuns(hsm, obs.creating, pass, roundOf(hsm), s)) {
    return { kind: 'wait', message: `Waiting for the deployment of HSM ${name} in flight to end before deleting it.`, requeueAfter: poll };
  }
  const r = obs.resource;
  if (!r) throw new Error('finalize observed no resource although no operation is in flight');
  if (!r.ok) return { kind: 'retry', message: `Could not read Azure HSM ${name}: ${r.failure.message}; retrying.`, error: `reading HSM ${name}: ${r.failure.message}`, retryAfterMs: r.failure.retryAfterMs };
  const existing = r.value;
  if (obs.notOurs) return { kind: 'releaseNotOurs' };
  if (existing && existing.provisioningState !== 'Succeeded' && existing.provisioningState !== 'Failed') {
    return { kind: 'wait', message: `Azure HSM ${name} is ${existing.provisioningState ?? 'busy'}; waiting for that operation to end before deleting.`, requeueAfter: poll };
  }
  return decideDeletion(
    {
      policy: hsm.spec.deletionPolicy,
      mode,
      resourceExists: existing !== undefined,
      resourceFailed: existing?.provisioningState === 'Failed',
      zeroized: obs.zeroized,
      confirmed: zeroizeConfirmed(hsm.metadata.annotations, name),
      ...(obs.target ? { target: obs.target } : {}),
      ...(obs.lastLiveCopyOf ? { lastLiveCopyOf: obs.lastLiveCopyOf } : {}),
      keyMaterialLossAccepted: keyMaterialLossAccepted(hsm.metadata.annotations, name),
    },
    name,
  );
}

async function actFinalize(env: HsmEnv, input: DedicatedHsm, step: FinalizeStep, obs: DeletionObservation, plane: AzurePlane, pass: Pass, checkpoint: Checkpoint, signal: AbortSignal): Promise<ReconcileOutcome | typeof RELEASE> {
  const ctx = env.ctx;
  let hsm = input;
  const name = armName(hsm);
  const a = hsm.spec.azure;
  const deleting = (message: string): void => {
    pass.condition({ type: 'DeletionBlocked', status: 'False', reason: 'Deleting', message });
    pass.override = { reason: 'Deleting', severity: 'progressing', message };
  };
  switch (step.kind) {
    case 'wait':
      deleting(step.message);
      return { requeueAfter: step.requeueAfter };
    case 'retry':
      deleting(step.message);
      throw new RetryableError(step.error, { retryAfterMs: step.retryAfterMs });
    case 'release':
      pass.event('Normal', 'Deleted', `Azure HSM ${name} does not exist (any more); the finalizer is removed.`, 'Delete');
      return RELEASE;
    case 'releaseNotOurs':
      pass.event('Warning', 'Orphaned', `Azure HSM ${name} is not this object's (it does not carry its ownership tag): it is left untouched, not zeroized or deleted; the finalizer is removed.`, 'Delete');
      return RELEASE;
    case 'blocked': {
      pass.condition(step.condition);
      const prev = getCondition(hsm.status?.conditions as Condition[] | undefined, 'DeletionBlocked');
      if (prev?.status !== 'True' || prev.reason !== step.condition.reason) pass.event('Warning', step.condition.reason, step.condition.message);
      return { requeueAfter: step.condition.reason === 'ApplianceUnreachable' ? ctx.settings.gatewayWaitMaxMs : resyncMs(ctx.settings, hsm) };
    }
    case 'zeroize': {
      const access = obs.access;
      const show = obs.show;
      const view = obs.view;
      if (!access || !show || !view) return undefined; // decideDeletion only zeroizes what it read, where it read it
      const serial = show.serial;
      const lossNote = obs.lastLiveCopyOf?.length ? ` It held the last live copy of the key material of HsmHaGroup ${obs.lastLiveCopyOf.join(', ')}; ${Annotations.acceptKeyMaterialLoss} accepts that loss.` : '';
      // Write-ahead: the zeroize is on record (DeletionBlocked=Zeroizing, a Warning Event) before the first wrong login.
      const zpass = new Pass(pass.now);
      zpass.condition({
        type: 'DeletionBlocked',
        status: 'True',
        reason: 'Zeroizing',
        message: `Zeroizing HSM ${name} (serial ${serial}) as ${Annotations.confirmZeroize} asks: three failed HSM SO logins; all key material on it is destroyed.`,
      });
      zpass.event('Warning', 'Zeroizing', `Zeroizing HSM ${name} (serial ${serial}) at ${access.advertisedHost}: ${Annotations.confirmZeroize} names it; deletionPolicy Delete ${requestedBy(hsm)}. All key material on it is destroyed.${lossNote}`);
      hsm = await checkpoint(zpass);
      try {
        const rep = await withAppliance(ctx, view, access, () => ctx.device.zeroize(access.endpoint, { confirm: 'zeroize-hsm-and-destroy-all-key-material', hsmSerial: serial }, { signal }));
        const after = await withAppliance(ctx, view, access, (ap) => ap.show());
        if (after.zeroized !== true) throw new Error(`hsm show does not report HSM ${name} zeroized after ${rep.failedLogins} failed HSM SO logins`);
        pass.event('Warning', 'Zeroized', `HSM ${name} (serial ${serial}) is zeroized (${rep.failedLogins} failed HSM SO logins) as ${Annotations.confirmZeroize} asked; deletionPolicy Delete ${requestedBy(hsm)}. Deleting its Azure resource next.`, 'Delete');
        pass.put('appliance', { ...(input.status?.appliance ?? {}), zeroized: true, soAttemptsLeft: 0 });
      } catch (e) {
        const p = describeDeviceError(e, `zeroizing HSM ${name}`);
        pass.condition({ type: 'DeletionBlocked', status: 'True', reason: p.reason === 'CredentialRejected' || p.reason === 'HostKeyMismatch' ? 'CredentialRejected' : 'ApplianceUnreachable', message: p.message });
        pass.event('Warning', 'ZeroizeFailed', p.message);
        return { requeueAfter: ctx.settings.needsHumanRecheckMs };
      }
      break;
    }
    case 'deleteResource':
      break;
  }

  // Delete the HSM resource (never its resource group).
  const why = step.kind === 'zeroize' ? `zeroized as ${Annotations.confirmZeroize} asked` : obs.zeroized === true ? 'the appliance reports it zeroized' : 'the resource never came up (Failed)';
  pass.event('Normal', 'Deleting', `Deleting Azure HSM ${name} (resource group ${a.resourceGroup} is left alone): ${why}; deletionPolicy Delete ${requestedBy(hsm)}.`);
  try {
    const p = await plane.beginDeleteHsm(a.subscriptionId, a.resourceGroup, name);
    if (p.done) {
      pass.event('Normal', 'Deleted', `Azure HSM ${name} is deleted; the finalizer is removed.`, 'Delete');
      return RELEASE;
    }
    pass.put('pendingOperation', { kind: 'delete', token: p.token, startedAt: pass.nowIso });
    deleting(`Deleting Azure HSM ${name}.`);
    return { requeueAfter: pollMs(ctx.settings, hsm, pass.now.getTime()) };
  } catch (e) {
    const f = failureOf(e);
    if (f.retryable) {
      deleting(`Deleting Azure HSM ${name} failed transiently (${f.message}); retrying.`);
      return { requeueAfter: Math.max(f.retryAfterMs ?? 0, afterFailureMs(ctx.settings, hsm, f, roundOf(input).attempts)) };
    }
    const message = `Azure refused to delete HSM ${name}: ${f.message} ${f.action}`;
    pass.condition({ type: 'DeletionBlocked', status: 'True', reason: 'DeletionBlocked', message });
    const lf: LastFailure = { class: 'DeletionBlocked', message: f.message.slice(0, 4096), time: pass.nowIso };
    if (f.code) lf.code = f.code;
    pass.put('lastFailure', lf);
    pass.event('Warning', 'DeletionBlocked', message);
    return { requeueAfter: ctx.settings.needsHumanRecheckMs };
  }
}
