/**
 * From what a pass found on each target to the binding's status: one entry per target, the Registered and InSync
 * conditions, Ready rolled up. Pure. Everything here is stable between passes that find the same state (no
 * timestamps or counters in messages), so a steady binding costs no status write.
 */
import { severityOf, SEVERITIES, type ConditionLike, type NtlsClientBindingStatus, type RevocationPolicy, type Verdict } from '../../api/index.js';
import { statusEqual, toKubeTime } from '../../runtime/index.js';
import { report, type ReportOptions } from '../shared/report.js';
import type { SecretReason } from '../shared/secrets.js';
import { driftText, type Drift, type ObservedClient } from './drift.js';

export type TargetStatus = NonNullable<NtlsClientBindingStatus['targets']>[number];
export type CertificateStatus = NonNullable<NtlsClientBindingStatus['certificate']>;

export type ProbeOutcome = { ok: true } | { ok: false; reason: string; message: string };

export interface TargetChecked {
  hsm: string;
  kind: 'checked';
  host: string;
  /** The client as the HSM reports it after this pass (re-read after a push). */
  observed: ObservedClient;
  expectedFingerprint: string;
  /** Drift found in this pass (a first registration is not drift). */
  found: Drift[];
  /** Drift left unrepaired (observe mode). */
  remaining: Drift[];
  /** Whether this pass changed the device. */
  pushed: boolean;
  /** SHA-256 of the server certificate handed out for this HSM. */
  serverCertFingerprint: string;
  /** The NTLS handshake; undefined when not attempted (the client is not registered as asked). */
  probe: ProbeOutcome | undefined;
  /** Whether this binding owns the client there now (registered by it, proven by certificate, or adopted). */
  owned: boolean;
  /** The grant that admitted a target in another namespace. */
  grant?: { name: string; revocationPolicy: RevocationPolicy };
}

export type DeviceReason = 'HostKeyMismatch' | 'CredentialRejected' | 'ApplianceUnreachable';

export type TargetResult =
  | TargetChecked
  | { hsm: string; kind: 'notFound' }
  | { hsm: string; kind: 'waiting'; message: string }
  | { hsm: string; kind: 'secretNotFound'; reason: SecretReason; message: string }
  | { hsm: string; kind: 'noCertificate' }
  | { hsm: string; kind: 'deviceError'; host?: string; reason: DeviceReason; message: string }
  | { hsm: string; kind: 'partitionNotFound'; host: string; message: string }
  /** In another namespace, and no HsmGrant there admits it; `revoked` when a grant did before (its policy was applied). */
  | { hsm: string; kind: 'notGranted'; message: string; revoked?: boolean }
  /** A client of that name is registered there and is not this binding's: left alone, its details not shown. */
  | { hsm: string; kind: 'clientExists'; host: string; message: string }
  /** Another (older) binding registers the same client name on this HSM: left alone. */
  | { hsm: string; kind: 'conflict'; message: string }
  /** A target no longer in the spec, unregistered (or nothing left to clean). */
  | { hsm: string; kind: 'removed' }
  /** A target no longer in the spec that could not be unregistered yet. */
  | { hsm: string; kind: 'removeFailed'; reason: DeviceReason | SecretReason; message: string };

// ---------------------------------------------------------------------------------------------------------------
// Per-target status

/** The status entry of a target after this pass; `undefined` drops it (a removed target that was cleaned up). */
export function targetStatus(prev: TargetStatus | undefined, r: TargetResult, now: Date): TargetStatus | undefined {
  if (r.kind === 'removed') return undefined;
  if (r.kind === 'notGranted') {
    // Nothing of that HSM is kept for a reader no grant admits; after a revocation it is no longer this binding's.
    if (r.revoked) return { dedicatedHsm: r.hsm, owned: false };
    // Not applied yet (observe mode, never admitted): what decides a later revocation is kept.
    const { owned, grant, revocationPolicy } = prev ?? {};
    return { dedicatedHsm: r.hsm, ...(owned !== undefined ? { owned } : {}), ...(grant !== undefined ? { grant } : {}), ...(revocationPolicy !== undefined ? { revocationPolicy } : {}) };
  }
  if (r.kind === 'clientExists') return { dedicatedHsm: r.hsm, host: r.host, owned: false };
  if (r.kind !== 'checked') {
    // Nothing new was learnt: keep the last known facts (the conditions say why they are stale).
    const host = 'host' in r && r.host !== undefined ? r.host : prev?.host;
    return { ...(prev ?? {}), dedicatedHsm: r.hsm, ...(host !== undefined ? { host } : {}) };
  }
  const pushes = (prev?.pushes ?? 0) + (r.pushed ? 1 : 0);
  const lastPushedAt = r.pushed ? toKubeTime(now) : prev?.lastPushedAt;
  const lastDrift = r.found.length ? { at: toKubeTime(now), reason: r.found[0]?.reason ?? 'Drifted', message: driftText(r.found) } : prev?.lastDrift;
  return {
    dedicatedHsm: r.hsm,
    host: r.host,
    registered: r.observed.registered,
    expectedFingerprint: r.expectedFingerprint,
    ...(r.observed.fingerprint !== undefined ? { fingerprintOnHsm: r.observed.fingerprint } : {}),
    partitions: [...r.observed.partitions],
    serverCertFingerprint: r.serverCertFingerprint,
    owned: r.owned,
    ...(r.grant ? { grant: r.grant.name, revocationPolicy: r.grant.revocationPolicy } : {}),
    ...(lastPushedAt !== undefined ? { lastPushedAt } : {}),
    ...(pushes > 0 ? { pushes } : {}),
    ...(lastDrift !== undefined ? { lastDrift } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Conditions

interface Problem {
  reason: string;
  /** False or Unknown for this target. */
  status: 'False' | 'Unknown';
  message: string;
}

const rank = (reason: string): number => {
  const s = severityOf(reason);
  // needsHuman first, then retrying, then progressing: the most urgent target names the condition's reason.
  return s === undefined ? 1 : -SEVERITIES.indexOf(s);
};

function combine(type: string, problems: Problem[], happy: { reason: string; message: string }): ConditionLike {
  if (problems.length === 0) return { type, status: 'True', ...happy };
  const first = [...problems].sort((a, b) => rank(a.reason) - rank(b.reason))[0] as Problem;
  const status = problems.some((p) => p.status === 'False') ? 'False' : 'Unknown';
  return { type, status, reason: first.reason, message: problems.map((p) => p.message).join(' ') };
}

function registeredProblem(r: TargetResult, mode: 'manage' | 'observe'): Problem | undefined {
  switch (r.kind) {
    case 'notFound':
      return { reason: 'TargetNotFound', status: 'False', message: `DedicatedHsm ${r.hsm} does not exist in this namespace; the client is registered once it does.` };
    case 'waiting':
      return { reason: 'WaitingForDedicatedHsm', status: 'False', message: r.message };
    case 'secretNotFound':
      return { reason: r.reason, status: 'False', message: `DedicatedHsm ${r.hsm}: ${r.message}` };
    case 'noCertificate':
      return { reason: 'Pending', status: 'Unknown', message: `${r.hsm}: waiting for a usable client certificate (see CertificateValid).` };
    case 'deviceError':
      return { reason: r.reason, status: 'False', message: r.message };
    case 'partitionNotFound':
      return { reason: 'PartitionNotFound', status: 'False', message: r.message };
    case 'conflict':
      return { reason: 'Pending', status: 'Unknown', message: `${r.hsm}: not registered: ${r.message}` };
    case 'notGranted':
      return { reason: 'NotGranted', status: 'False', message: `${r.hsm}: ${r.message}` };
    case 'clientExists':
      return { reason: 'ClientExists', status: 'False', message: `${r.hsm}: ${r.message}` };
    case 'removeFailed':
      return { reason: r.reason, status: 'False', message: `DedicatedHsm ${r.hsm} was removed from the targets but the client could not be unregistered there yet: ${r.message}` };
    case 'removed':
      return undefined;
    case 'checked': {
      const left = r.remaining.filter((d) => d.kind !== 'serverCert');
      if (r.observed.registered && left.length === 0) return undefined;
      if (mode === 'observe') return { reason: 'Drifted', status: 'False', message: `${r.hsm}: ${driftText(left)} (observe mode: not repaired).` };
      return { reason: 'Registering', status: 'False', message: `${r.hsm}: ${driftText(left) || 'the client is not registered yet'}.` };
    }
  }
}

function inSyncProblem(r: TargetResult, mode: 'manage' | 'observe'): Problem | undefined {
  switch (r.kind) {
    case 'removed':
    case 'removeFailed':
      return undefined;
    case 'deviceError':
      if (r.reason === 'ApplianceUnreachable') return { reason: 'ApplianceUnreachable', status: 'False', message: r.message };
      return { reason: 'Pending', status: 'Unknown', message: `${r.hsm}: not compared (see Registered).` };
    case 'checked':
      if (r.remaining.length) {
        return { reason: 'Drifted', status: 'False', message: `${r.hsm}: ${driftText(r.remaining)}${mode === 'observe' ? ' (observe mode: not repaired)' : ''}.` };
      }
      if (!r.probe) return { reason: 'Drifted', status: 'False', message: `${r.hsm}: the client is not registered as the spec asks.` };
      if (!r.probe.ok) {
        return {
          reason: 'NtlsUnreachable',
          status: 'False',
          message: `${r.hsm}: the mutual-TLS handshake on the NTLS port (${r.host}) failed (${r.probe.reason}): ${r.probe.message}.`,
        };
      }
      return undefined;
    default:
      return { reason: 'Pending', status: 'Unknown', message: `${r.hsm}: not compared yet (see Registered).` };
  }
}

export function registeredCondition(results: readonly TargetResult[], clientName: string, mode: 'manage' | 'observe'): ConditionLike {
  const problems = results.map((r) => registeredProblem(r, mode)).filter((p): p is Problem => p !== undefined);
  const on = results.filter((r) => r.kind === 'checked').map((r) => r.hsm);
  return combine('Registered', problems, { reason: 'Registered', message: `Client ${clientName} is registered on ${on.join(', ')} with its partitions assigned.` });
}

export function inSyncCondition(results: readonly TargetResult[], mode: 'manage' | 'observe'): ConditionLike {
  const problems = results.map((r) => inSyncProblem(r, mode)).filter((p): p is Problem => p !== undefined);
  return combine('InSync', problems, {
    reason: 'InSync',
    message: 'Every target holds the expected client certificate, registration and partitions, hands out the current server certificate, and a mutual-TLS handshake on its NTLS port succeeds.',
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The whole status

export interface StatusInput {
  mode: 'manage' | 'observe';
  clientName: string;
  /** Conditions computed this pass (CertificateValid, Registered, InSync); absent ones keep their last value. */
  conditions: ConditionLike[];
  certificate: CertificateStatus | undefined;
  /** Spec targets in spec order, then targets being removed. */
  results: readonly TargetResult[];
  outputSecretName: string;
  override?: ReportOptions['override'];
}

export interface ComputedStatus {
  status: NtlsClientBindingStatus;
  ready: Verdict;
}

const OBSERVE_HAPPY = { reason: 'Observing', message: 'Observe mode: every target matches the spec; drift is reported, never repaired.' };

/** Ready in observe mode: drift the operator will not repair needs a human (Stalled), not patience. */
function observeOverride(rolled: Verdict): ReportOptions['override'] {
  if (rolled.reason !== 'Drifted') return undefined;
  return { status: rolled.status, reason: 'Drifted', message: `Observe mode: reported, not repaired. ${rolled.message}`, severity: 'needsHuman' };
}

export function computeStatus(prev: NtlsClientBindingStatus | undefined, input: StatusInput, generation: number | undefined, now: Date): ComputedStatus {
  const prevTargets = new Map((prev?.targets ?? []).map((t) => [t.dedicatedHsm, t]));
  const targets: TargetStatus[] = [];
  for (const r of input.results) {
    const t = targetStatus(prevTargets.get(r.hsm), r, now);
    if (t) targets.push(t);
  }
  const happy = input.mode === 'observe' ? OBSERVE_HAPPY : undefined;
  let rep = report('NtlsClientBinding', prev?.conditions, input.conditions, generation, now, { ...(input.override ? { override: input.override } : {}), ...(happy ? { happy } : {}) });
  if (!input.override && input.mode === 'observe') {
    const o = observeOverride(rep.ready);
    if (o) rep = report('NtlsClientBinding', prev?.conditions, input.conditions, generation, now, { override: o });
  }
  const next: NtlsClientBindingStatus = {
    ...(prev?.observedGeneration !== undefined ? { observedGeneration: prev.observedGeneration } : {}),
    conditions: rep.conditions,
    ...(input.certificate ? { certificate: input.certificate } : {}),
    ...(targets.length ? { targets } : {}),
    outputSecretName: input.outputSecretName,
  };
  // lastCheckedAt moves only with another change: a steady binding's checks cost no status write.
  const { lastCheckedAt: prevChecked, ...prevRest } = prev ?? {};
  const changed = !statusEqual({ ...prevRest, observedGeneration: undefined }, { ...next, observedGeneration: undefined });
  const lastCheckedAt = changed ? toKubeTime(now) : prevChecked;
  return { status: { ...next, ...(lastCheckedAt !== undefined ? { lastCheckedAt } : {}) }, ready: rep.ready };
}
