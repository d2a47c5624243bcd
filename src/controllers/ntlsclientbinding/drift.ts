/**
 * Drift: what a target HSM holds for the client compared with what the binding asks for, and the smallest set of
 * lunash commands that repairs it. Pure; the reconciler observes, calls `planClient`, and runs only the plan.
 */
import type { NtlsDriftKind } from '../../observability/hsm-metrics.js';
import { fingerprintMatches, normalizeFingerprint, type CertificateFacts } from '../../pki/index.js';

export interface DesiredClient {
  name: string;
  identity: { hostname?: string | undefined; ip?: string | undefined };
  partitions: readonly string[];
  cert: CertificateFacts;
}

/** What `client show` and `client fingerprint` said (registered false when the HSM does not know the client). */
export interface ObservedClient {
  registered: boolean;
  hostname?: string | undefined;
  ip?: string | undefined;
  partitions: readonly string[];
  /** As printed: 16, 20 or 32 bytes. */
  fingerprint?: string | undefined;
}

export type DriftReason = 'NotRegistered' | 'IdentityMismatch' | 'FingerprintMismatch' | 'PartitionMissing' | 'PartitionExtra' | 'ServerCertChanged';

export interface Drift {
  reason: DriftReason;
  /** The metric label (hsm_operator_ntls_drift_total{kind}). */
  kind: NtlsDriftKind;
  message: string;
}

export interface ClientPlan {
  drifts: Drift[];
  /** Delete the registration before registering again (wrong certificate or identity). */
  unregister: boolean;
  /** Upload the certificate and `client register`. */
  register: boolean;
  assign: string[];
  revoke: string[];
}

const DRIFT_KIND: Record<DriftReason, NtlsDriftKind> = {
  NotRegistered: 'registration',
  IdentityMismatch: 'registration',
  FingerprintMismatch: 'clientCert',
  PartitionMissing: 'partitions',
  PartitionExtra: 'partitions',
  ServerCertChanged: 'serverCert',
};

const drift = (reason: DriftReason, message: string): Drift => ({ reason, kind: DRIFT_KIND[reason], message });

/** The same digest of the local certificate that the HSM printed (so status compares like with like). */
export function expectedFingerprint(cert: CertificateFacts, printed: string | undefined): string {
  const bytes = printed ? normalizeFingerprint(printed).split(':').length : 32;
  return bytes === 16 ? cert.md5 : bytes === 20 ? cert.sha1 : cert.sha256;
}

function identityMatches(want: DesiredClient['identity'], seen: ObservedClient): boolean | undefined {
  if (seen.hostname === undefined && seen.ip === undefined) return undefined; // the device did not say: no verdict
  if (want.ip !== undefined) return seen.ip !== undefined ? seen.ip === want.ip : seen.hostname === want.ip;
  if (want.hostname !== undefined) return seen.ip === undefined && seen.hostname?.toLowerCase() === want.hostname.toLowerCase();
  return undefined;
}

const describeIdentity = (i: { hostname?: string | undefined; ip?: string | undefined }): string =>
  i.ip !== undefined ? `ip ${i.ip}` : i.hostname !== undefined ? `hostname ${i.hostname}` : 'no identity';

/** Compares one target with the spec. `force` re-registers from scratch (the repush-now annotation). */
export function planClient(want: DesiredClient, seen: ObservedClient, force = false): ClientPlan {
  const all = [...want.partitions];
  if (!seen.registered) {
    return { drifts: [drift('NotRegistered', `client ${want.name} is not registered`)], unregister: false, register: true, assign: all, revoke: [] };
  }
  const drifts: Drift[] = [];
  if (identityMatches(want.identity, seen) === false) {
    drifts.push(drift('IdentityMismatch', `client ${want.name} is registered with ${describeIdentity(seen)}, expected ${describeIdentity(want.identity)}`));
  }
  if (seen.fingerprint === undefined || !fingerprintMatches(want.cert, seen.fingerprint)) {
    drifts.push(
      drift(
        'FingerprintMismatch',
        seen.fingerprint === undefined
          ? `the HSM reports no certificate fingerprint for client ${want.name}`
          : `the HSM holds certificate ${normalizeFingerprint(seen.fingerprint)} for client ${want.name}, expected ${expectedFingerprint(want.cert, seen.fingerprint)}`,
      ),
    );
  }
  if (drifts.length > 0 || force) {
    // A registration cannot be edited: delete it and register again, then assign every partition.
    return { drifts, unregister: true, register: true, assign: all, revoke: [] };
  }
  const missing = all.filter((p) => !seen.partitions.includes(p));
  const extra = seen.partitions.filter((p) => !want.partitions.includes(p));
  if (missing.length) drifts.push(drift('PartitionMissing', `partition${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not assigned to client ${want.name}`));
  if (extra.length) drifts.push(drift('PartitionExtra', `partition${extra.length > 1 ? 's' : ''} ${extra.join(', ')} assigned to client ${want.name} but not in the spec`));
  return { drifts, unregister: false, register: false, assign: missing, revoke: extra };
}

/** Whether a plan changes anything on the device. */
export function planChangesDevice(p: ClientPlan): boolean {
  return p.unregister || p.register || p.assign.length > 0 || p.revoke.length > 0;
}

/**
 * The server certificate handed out (SHA-256 of `<hsm>.pem` in the output Secret) against the one the HSM serves
 * now. Nothing handed out yet is not drift: it is the first hand-out.
 */
export function serverCertDrift(handedOut: string | undefined, current: string): Drift | undefined {
  if (handedOut === undefined || handedOut === current) return undefined;
  return drift('ServerCertChanged', `the HSM serves a new NTLS server certificate ${current} (was ${handedOut}; sysconf regenCert?)`);
}

export interface DriftContext {
  /** The operator registered the client on this target before (a client missing now is drift, not a first push). */
  everPushed: boolean;
  /** SHA-256 of the server certificate handed out for this target (undefined: none yet). */
  handedOut: string | undefined;
  /** SHA-256 of the server certificate the appliance serves now. */
  serverNow: string;
  /** Observe mode: the same drift is reported once, not on every check. */
  observe: boolean;
  /** The message of the drift reported last for this target (status lastDrift). */
  lastReported: string | undefined;
}

export interface DriftAssessment {
  /** Client drift that counts as drift (a first registration does not). */
  client: Drift[];
  server: Drift | undefined;
  /** What to report now (Event, metric, lastDrift): empty for a repeat in observe mode. */
  found: Drift[];
}

export const driftText = (ds: readonly Drift[]): string => ds.map((d) => d.message).join('; ').slice(0, 1024);

/** From a target's plan to the drift to report. */
export function assessDrift(plan: ClientPlan, c: DriftContext): DriftAssessment {
  const client = plan.drifts.filter((d) => c.everPushed || d.reason !== 'NotRegistered');
  const server = serverCertDrift(c.handedOut, c.serverNow);
  const all = [...client, ...(server ? [server] : [])];
  const repeat = c.observe && all.length > 0 && c.lastReported === driftText(all);
  return { client, server, found: repeat ? [] : all };
}
