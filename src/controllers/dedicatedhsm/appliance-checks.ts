/**
 * What the appliance told us, as conditions and status facts. Pure. The reboot patch message is the guide's
 * advice; messages carry no timestamps or counters, so an unchanged appliance costs no status write.
 */
import type { ConditionLike, DedicatedHsmStatus } from '../../api/index.js';
import type { HsmShow } from '../../luna/index.js';
import { deepEqual, toKubeTime } from '../../runtime/index.js';
import type { DeviceProblem, SecretReason } from '../shared/index.js';

export type ApplianceStatus = NonNullable<DedicatedHsmStatus['appliance']>;

export interface ApplianceFacts {
  show: HsmShow;
  rebootPatchInstalled: boolean;
  serverCert: { sha256: string; notAfter: Date };
  /** The host key the connection was verified with (SHA256:...). */
  hostKeyFingerprint: string | undefined;
  /** The Secret version the login succeeded with (what plan may log in with). */
  credential?: { uid: string; resourceVersion: string; name?: string | undefined };
}

export type SshOutcome =
  | { kind: 'ok'; facts: ApplianceFacts }
  | { kind: 'unavailable'; reason: 'NotProvisioned' | SecretReason; message: string }
  | { kind: 'failed'; problem: DeviceProblem };

export type NtlsOutcome = { kind: 'reachable' } | { kind: 'unreachable'; message: string } | { kind: 'unknown' };

export interface ApplianceObservation {
  ssh: SshOutcome;
  ntls: NtlsOutcome;
  /** The address clients use (spec host or NIC IP), for messages. */
  host: string | undefined;
  sshPort: number;
  ntlsPort: number;
}

export const REBOOT_PATCH_ADVICE =
  'Install the Thales reboot patch KB0019789 (Thales Luna 7 HSM 7.2 Downloads; registration in the Thales customer support portal needed) before any configuration of the HSM: without it a reboot can stop responding, and recovering then needs an Azure support request for a hard reboot that can take up to 48 hours.';

export interface ApplianceChecks {
  conditions: ConditionLike[];
  /** Facts for status.appliance; undefined when nothing new was read (previous facts stay). */
  appliance: ApplianceStatus | undefined;
}

export function applianceChecks(o: ApplianceObservation): ApplianceChecks {
  const conditions: ConditionLike[] = [];
  const at = o.host ?? 'the appliance';
  let appliance: ApplianceStatus | undefined;
  switch (o.ssh.kind) {
    case 'unavailable':
      conditions.push(
        o.ssh.reason === 'NotProvisioned'
          ? { type: 'ApplianceReachable', status: 'Unknown', reason: 'Pending', message: o.ssh.message }
          : { type: 'ApplianceReachable', status: 'False', reason: o.ssh.reason, message: o.ssh.message },
      );
      break;
    case 'failed': {
      const p = o.ssh.problem;
      const reason = p.reason === 'CommandFailed' ? 'ApplianceUnreachable' : p.reason;
      conditions.push({ type: 'ApplianceReachable', status: 'False', reason, message: p.message });
      break;
    }
    case 'ok': {
      const f = o.ssh.facts;
      conditions.push({
        type: 'ApplianceReachable',
        status: 'True',
        reason: 'Reachable',
        message: `lunash answered on ${at}:${o.sshPort} with the pinned host key (HSM serial ${f.show.serial}${f.show.softwareVersion ? `, software ${f.show.softwareVersion}` : ''}${f.show.firmware ? `, firmware ${f.show.firmware}` : ''}).`,
      });
      conditions.push(
        f.rebootPatchInstalled
          ? { type: 'RebootPatchInstalled', status: 'True', reason: 'PatchInstalled', message: 'Reboot patch KB0019789 is installed.' }
          : { type: 'RebootPatchInstalled', status: 'False', reason: 'RebootPatchMissing', message: `The reboot patch KB0019789 is not installed on ${at}. ${REBOOT_PATCH_ADVICE}` },
      );
      appliance = applianceStatus(f);
      break;
    }
  }
  if (o.ntls.kind === 'reachable') {
    conditions.push({ type: 'NtlsReachable', status: 'True', reason: 'Reachable', message: `NTLS answered on ${at}:${o.ntlsPort}.` });
  } else if (o.ntls.kind === 'unreachable') {
    conditions.push({
      type: 'NtlsReachable',
      status: 'False',
      reason: 'NtlsUnreachable',
      message: `NTLS on ${at}:${o.ntlsPort} does not accept connections (${o.ntls.message}). Luna clients need at least TCP ${o.ntlsPort} to the HSM: check network security groups, firewalls and routes on the path.`,
    });
  } else {
    conditions.push({ type: 'NtlsReachable', status: 'Unknown', reason: 'Pending', message: 'The NTLS port is checked once the HSM has an address.' });
  }
  return { conditions, appliance };
}

export function applianceStatus(f: ApplianceFacts): ApplianceStatus {
  const s: ApplianceStatus = { serial: f.show.serial, rebootPatchInstalled: f.rebootPatchInstalled };
  if (f.show.softwareVersion) s.softwareVersion = f.show.softwareVersion;
  if (f.show.firmware) s.firmwareVersion = f.show.firmware;
  if (f.show.model) s.model = f.show.model;
  if (f.show.zeroized !== undefined) s.zeroized = f.show.zeroized;
  if (f.show.soLoginAttemptsLeft !== undefined) s.soAttemptsLeft = f.show.soLoginAttemptsLeft;
  s.ntlsServerCertFingerprint = f.serverCert.sha256;
  s.ntlsServerCertNotAfter = toKubeTime(f.serverCert.notAfter);
  if (f.hostKeyFingerprint) s.hostKeyFingerprint = f.hostKeyFingerprint;
  if (f.credential?.uid) s.credentialAccepted = { secretUid: f.credential.uid, resourceVersion: f.credential.resourceVersion, ...(f.credential.name ? { secretName: f.credential.name } : {}) };
  return s;
}

/**
 * The facts to store: `observedAt` moves only when a fact changed, so re-reading an unchanged appliance writes
 * nothing.
 */
export function mergeApplianceStatus(previous: ApplianceStatus | undefined, next: ApplianceStatus, now: Date): ApplianceStatus {
  const { observedAt: _prevAt, ...prevFacts } = previous ?? {};
  // Deep and order-blind: the API server may hand nested facts (credentialAccepted) back with their keys reordered.
  const same = deepEqual(prevFacts, next);
  return { ...next, observedAt: same && previous?.observedAt ? previous.observedAt : toKubeTime(now) };
}

