/**
 * NtlsClientBinding reconcile: read (cache, Secrets, each target appliance) -> decide (drift.ts, certificate.ts) ->
 * act (only the decided lunash commands, the certificate and output Secrets) -> report (status.ts, Events,
 * metrics). The guide's "NTLS Certificates out of sync" section, automated: every driftCheckInterval and on any
 * related change the client's registration, certificate fingerprint, partitions and the handed-out server.pem
 * are compared on every target, drift is re-pushed, and a real mutual-TLS handshake proves the result.
 */
import {
  Annotations,
  GROUP,
  NtlsClientBindingKind,
  VERSION,
  abandonRequested,
  outputSecretName,
  parseDuration,
  type ConditionLike,
  type DedicatedHsm,
  type NtlsClientBinding,
  type NtlsClientBindingStatus,
} from '../../api/index.js';
import { issueCertificate, parseCertificate } from '../../pki/index.js';
import {
  RetryableError,
  refOf,
  splitKey,
  toKubeTime,
  type ReconcileContext,
  type ReconcileOutcome,
  type ResourceType,
} from '../../runtime/index.js';
import { advertisedHost, applianceAccess, withAppliance } from '../shared/appliance.js';
import { grantFor, hsmAddress, hsmAddressOfStatusKey, partitionGranted, type GrantRequest, type HsmAddress } from '../shared/grants.js';
import { bindingRequest, ownedBefore, ownership, requestsFor } from './ownership.js';
import type { Pass} from '../shared/pass.js';
import { type PendingEvent } from '../shared/pass.js';
import { reconcilerFor, type CleanupOutcome, type Step } from '../shared/skeleton.js';
import type { OperatorContext } from '../shared/context.js';
import { describeDeviceError } from '../shared/device-errors.js';
import { spreadBelow } from '../shared/timing.js';
import type { ReportOptions } from '../shared/report.js';
import { SecretReads, type SecretReason } from '../shared/secrets.js';
import {
  ISSUED_FOR_ANNOTATION,
  TLS_CERT,
  TLS_KEY,
  certificateValidity,
  checkKeyPair,
  generatedSecretName,
  issuancePlan,
  issuedFor,
  leafPem,
  reissueReason,
  usable,
  validityCondition,
  validityWindow,
  type CertificateSource,
  type KeyPair,
} from './certificate.js';
import { PartitionNotFoundError, clientIdentity, pushClient, readClient, unregisterClient } from './device.js';
import { assessDrift, expectedFingerprint, planChangesDevice, planClient, type DesiredClient, type Drift } from './drift.js';
import { BINDING_LABEL, MANAGED_BY_LABELS, OwnedSecrets, decodeSecret, ownedBy } from './owned-secrets.js';
import { handedOutFingerprint, outputSecretData, serverCertKey, type NtlsServer } from './output.js';
import { computeStatus, inSyncCondition, registeredCondition, type CertificateStatus, type DeviceReason, type ProbeOutcome, type TargetResult, type TargetStatus } from './status.js';
import { bindingTiming, DEFAULT_CERTIFICATE_DURATION, type BindingTiming } from './timing.js';
import { clientNameHolder } from './conflicts.js';
import { BY_DEDICATED_HSM, waitingFor } from './watches.js';

export const CONTROLLER_NAME = 'NtlsClientBinding';
export const NtlsClientBindingType: ResourceType = { group: GROUP, version: VERSION, plural: NtlsClientBindingKind.plural, kind: NtlsClientBindingKind.kind, namespaced: true };

/** Transient failures are retried this soon (or at the drift interval, if shorter). */
const RETRY_MS = 5_000;

type Mode = 'manage' | 'observe';

type EventNote = PendingEvent;
type BindingPass = Pass<NtlsClientBindingStatus>;

interface CertificateOutcome {
  condition: ConditionLike;
  status?: CertificateStatus;
  /** A usable pair (valid or expiring) to push; absent when there is none. */
  pair?: KeyPair;
  /** When the certificate's state changes next (renewal or expiry), ms since the epoch. */
  recheckAt?: number;
}

interface TargetPass {
  result: TargetResult;
  /** The server certificate read in this pass (to hand out). */
  server?: NtlsServer;
}

interface PassEnv {
  binding: NtlsClientBinding;
  mode: Mode;
  force: boolean;
  pair: KeyPair | undefined;
  handedOut: Record<string, string>;
  reads: SecretReads;
  /** The reconcile's signal: device work stops on shutdown or loss of the lease. */
  signal: AbortSignal;
  prev: Map<string, TargetStatus>;
  events: EventNote[];
}

type Unregistered = { ok: true; changed: boolean; note?: string } | { ok: false; reason: DeviceReason | SecretReason; message: string; needsHuman: boolean };

export class NtlsClientBindingReconciler {
  private readonly owned: OwnedSecrets;
  /** The binding's reconcile: the shared skeleton (skeleton.ts) around this kind's apply and cleanup. */
  readonly reconcile: (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome>;

  /** `scale` compresses the spec's durations: 1 in a cluster (sandbox and tests: OperatorOptions.compressedTime). */
  constructor(private readonly ctx: OperatorContext, private readonly scale = 1) {
    this.owned = new OwnedSecrets(ctx);
    this.reconcile = this.skeleton();
  }

  private skeleton(): (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome> {
    return reconcilerFor<NtlsClientBindingStatus, NtlsClientBinding>(this.ctx, {
      kind: 'NtlsClientBinding',
      controller: CONTROLLER_NAME,
      type: NtlsClientBindingType,
      cache: this.ctx.caches.bindings,
      finalizer: true,
      // Every pass is a full re-read; resync-now only asks for one now.
      triggers: [
        { annotation: Annotations.repushNow, modes: ['manage'] },
        { annotation: Annotations.resyncNow, modes: ['manage', 'observe'] },
      ],
      readyEvents: false,
      pausedMessage: (deleting) =>
        deleting
          ? `${Annotations.reconcile}=paused: deletion waits (the client stays registered) until the annotation is removed.`
          : `${Annotations.reconcile}=paused: nothing is read or written until the annotation is removed.`,
      first: (b, pass) => {
        const pending = (type: string): ConditionLike => ({ type, status: 'Unknown', reason: 'Pending', message: 'Not checked yet.' });
        pass.condition(pending('CertificateValid'), pending('Registered'), pending('InSync'));
        pass.put('outputSecretName', outputSecretName(b.metadata.name ?? '', b.spec));
      },
      forget: (key) => this.forget(key),
      apply: (b, pass, step) => this.apply(b, pass, step),
      cleanup: (b, pass, step) => this.finalize(b, pass, step),
    });
  }

  private async apply(b: NtlsClientBinding, pass: BindingPass, step: Step<NtlsClientBinding>): Promise<ReconcileOutcome> {
    let timing: BindingTiming;
    try {
      timing = bindingTiming(b.spec, this.scale);
      clientIdentity(b.spec.identity);
      sameHsmTwice(b);
    } catch (e) {
      pass.override = { reason: 'InvalidSpec', severity: 'needsHuman', message: e instanceof Error ? e.message : String(e) };
      return;
    }
    const resync = step.fired.get(Annotations.resyncNow);
    if (resync !== undefined) pass.event('Normal', 'ResyncRequested', `${Annotations.resyncNow}=${JSON.stringify(resync)}: every target is read again now.`);
    const repush = step.fired.get(Annotations.repushNow);
    if (repush !== undefined) pass.event('Normal', 'RepushRequested', `${Annotations.repushNow}=${JSON.stringify(repush)}: client ${b.spec.clientName} is deleted, registered and assigned again on every reachable target now.`);
    return this.pass(b, step.mode, timing, repush !== undefined, step.rc, pass);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // One full pass

  private async pass(b: NtlsClientBinding, mode: Mode, timing: BindingTiming, force: boolean, rc: ReconcileContext, pass: BindingPass): Promise<ReconcileOutcome> {
    const { namespace, name } = refOf(b);
    const key = `${namespace}/${name}`;
    const now = pass.now.getTime();
    const reads = new SecretReads(this.ctx.secrets, CONTROLLER_NAME, key, this.ctx.digest);
    const events: EventNote[] = pass.events;

    const cert = await this.certificate(b, mode, timing, reads, now, events);
    const outName = outputSecretName(name, b.spec);
    const outCurrent = await this.owned.read(reads, namespace, outName);
    const outForeign = outCurrent !== undefined && !ownedBy(outCurrent, b);
    const handedOut = outCurrent && !outForeign ? decodeSecret(outCurrent) : {};
    const prev = new Map((b.status?.targets ?? []).map((t) => [t.dedicatedHsm, t]));
    const env: PassEnv = { binding: b, mode, force, pair: cert.pair, handedOut, reads, prev, events, signal: rc.signal };

    const passes = await Promise.all(b.spec.targets.map((t) => this.target(env, hsmAddress(namespace, t.dedicatedHsmRef), t.partitions)));
    const results: TargetResult[] = passes.map((p) => p.result);
    const wanted = new Set(b.spec.targets.map((t) => hsmAddress(namespace, t.dedicatedHsmRef).statusKey));
    const removed = [...prev.keys()].filter((h) => !wanted.has(h));
    if (mode === 'manage') results.push(...(await Promise.all(removed.map((h) => this.removeTarget(b, h, reads, events, rc.signal)))));

    let override: ReportOptions['override'];
    const conflicts = results.filter((r): r is Extract<TargetResult, { kind: 'conflict' }> => r.kind === 'conflict');
    if (conflicts.length) {
      override = { reason: 'InvalidSpec', severity: 'needsHuman', message: `Client name conflict: ${conflicts.map((c) => c.message).join(' ')}` };
    }
    if (outForeign) {
      override = {
        reason: 'InvalidSpec',
        severity: 'needsHuman',
        message: `Secret ${namespace}/${outName} exists and is not owned by this NtlsClientBinding; the operator does not overwrite it. Delete it or set spec.outputSecretName to another name.`,
      };
    }
    this.certificateEvents(b.status?.conditions, cert.condition, events);
    // What happened on the devices is told even when writing the Secret fails (the skeleton flushes the Events).
    if (!outForeign && mode === 'manage' && cert.pair) await this.writeOutput(b, outName, outCurrent, handedOut, passes, cert.pair, events);
    reads.done();

    // Report: the skeleton writes it, composed from the status as it is then.
    const conditions: ConditionLike[] = [cert.condition, registeredCondition(results, b.spec.clientName, mode), inSyncCondition(results, mode)];
    const input = { mode, clientName: b.spec.clientName, conditions, certificate: cert.status, results, outputSecretName: outName, ...(override ? { override } : {}) };
    pass.compose = (status) => computeStatus(status, input, b.metadata.generation, pass.now);
    this.ctx.metrics.setClientCertNotAfter(refOf(b), cert.pair?.facts.notAfter ?? (cert.status?.notAfter ? new Date(cert.status.notAfter) : undefined));

    // Next look: the drift interval, or sooner when the certificate changes state, or a retry of a transient failure.
    let next = spreadBelow(timing.driftCheckMs);
    if (cert.recheckAt !== undefined) next = Math.min(next, Math.max(500, cert.recheckAt - this.ctx.clock.now() + 500));
    const transient = results.filter(isTransient);
    if (transient.length) {
      rc.log.debug({ targets: transient.map((r) => r.hsm) }, 'transient target failures; retrying');
      throw new RetryableError(`targets not reachable: ${transient.map((r) => r.hsm).join(', ')}`, { retryAfterMs: Math.min(next, RETRY_MS) });
    }
    return { requeueAfter: next };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Certificate

  private async certificate(b: NtlsClientBinding, mode: Mode, timing: BindingTiming, reads: SecretReads, now: number, events: EventNote[]): Promise<CertificateOutcome> {
    const { namespace, name } = refOf(b);
    const spec = b.spec.certificate;
    if (spec.secretRef) {
      const secret = spec.secretRef.name;
      const r = await reads.data(namespace, secret);
      if (!r.ok) {
        return {
          condition: {
            type: 'CertificateValid',
            status: 'False',
            reason: 'SecretNotFound',
            message: `${r.message} It must be a kubernetes.io/tls Secret with ${TLS_CERT} and ${TLS_KEY} (cert-manager writes such Secrets).`,
          },
        };
      }
      const check = checkKeyPair(r.data, `Secret ${namespace}/${secret}`);
      if (!check.ok) return { condition: { type: 'CertificateValid', status: 'False', reason: 'CertificateInvalid', message: check.message } };
      return this.fromPair(check.pair, { kind: 'secret', secret }, timing, now);
    }

    const secret = generatedSecretName(name);
    const source: CertificateSource = { kind: 'generated', secret };
    const plan = issuancePlan(b.spec, timing.generateDurationMs ?? parseDuration(DEFAULT_CERTIFICATE_DURATION) * this.scale);
    const current = await this.owned.read(reads, namespace, secret);
    if (current && !ownedBy(current, b)) {
      return {
        condition: {
          type: 'CertificateValid',
          status: 'False',
          reason: 'CertificateInvalid',
          message: `Secret ${namespace}/${secret} exists and is not owned by this NtlsClientBinding; the operator does not overwrite it. Delete it, or use certificate.secretRef to bring your own certificate.`,
        },
      };
    }
    const stored = current ? { check: checkKeyPair(decodeSecret(current), `Secret ${namespace}/${secret}`), issuedFor: current.metadata?.annotations?.[ISSUED_FOR_ANNOTATION] } : undefined;
    const why = reissueReason(stored, plan, now, timing.renewBeforeMs);
    if (!why && stored?.check.ok) return this.fromPair(stored.check.pair, source, timing, now);
    if (mode !== 'manage') {
      if (stored?.check.ok) return this.fromPair(stored.check.pair, source, timing, now);
      return {
        condition: {
          type: 'CertificateValid',
          status: 'Unknown',
          reason: 'Pending',
          message: `Observe mode: Secret ${namespace}/${secret} holds no usable generated certificate (${why ?? 'none'}); the operator generates one only in manage mode.`,
        },
      };
    }
    const { notBefore, notAfter } = validityWindow(now, plan.durationMs);
    const issued = await issueCertificate({
      commonName: plan.commonName,
      dnsNames: plan.dnsNames,
      ipAddresses: plan.ipAddresses,
      keyAlgorithm: plan.keyAlgorithm,
      notBefore,
      notAfter,
    });
    await this.owned.apply(
      b,
      {
        namespace,
        name: secret,
        type: 'kubernetes.io/tls',
        data: { [TLS_CERT]: issued.certPem, [TLS_KEY]: issued.keyPem },
        labels: { ...MANAGED_BY_LABELS, [BINDING_LABEL]: name },
        annotations: { [ISSUED_FOR_ANNOTATION]: issuedFor(plan) },
      },
      current,
    );
    const facts = parseCertificate(issued.certPem);
    events.push({
      type: 'Normal',
      reason: stored?.check.ok ? 'CertificateRenewed' : 'CertificateIssued',
      note: `Issued client certificate CN=${facts.subjectCommonName} valid until ${toKubeTime(facts.notAfter)} into Secret ${secret} (${why ?? 'requested'}); it is pushed to every target.`,
    });
    return this.fromPair({ certPem: issued.certPem, keyPem: issued.keyPem, facts }, source, timing, now);
  }

  private fromPair(pair: KeyPair, source: CertificateSource, timing: BindingTiming, now: number): CertificateOutcome {
    const v = certificateValidity(pair.facts, now, timing.renewBeforeMs);
    const status: CertificateStatus = {
      fingerprint: pair.facts.sha256,
      notBefore: toKubeTime(pair.facts.notBefore),
      notAfter: toKubeTime(pair.facts.notAfter),
      renewalTime: toKubeTime(v.renewalTime),
      secretName: source.secret,
    };
    const recheckAt =
      v.state === 'valid' ? v.renewalTime.getTime() : v.state === 'expiring' ? pair.facts.notAfter.getTime() : v.state === 'notYetValid' ? pair.facts.notBefore.getTime() : undefined;
    return { condition: validityCondition(source, pair.facts, v), status, ...(usable(v) ? { pair } : {}), ...(recheckAt !== undefined ? { recheckAt } : {}) };
  }

  /** Warnings when CertificateValid turns bad (once per transition, not on every pass). */
  private certificateEvents(prev: readonly { type: string; reason: string }[] | undefined, next: ConditionLike, events: EventNote[]): void {
    const before = prev?.find((c) => c.type === 'CertificateValid')?.reason;
    if (before === next.reason) return;
    if (['CertificateExpiring', 'CertificateExpired', 'CertificateInvalid', 'SecretNotFound'].includes(next.reason)) events.push({ type: 'Warning', reason: next.reason, note: next.message });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Targets

  private async target(env: PassEnv, addr: HsmAddress, partitions: readonly string[]): Promise<TargetPass> {
    const b = env.binding;
    const hsmName = addr.statusKey;
    const prev = env.prev.get(hsmName);
    // Across namespaces: nothing is looked at before a grant admits it (not even whether the HSM exists).
    const grant = grantFor(this.ctx, bindingRequest(b, addr, partitions), this.otherRequests(b, addr));
    if (!grant.granted) return { result: await this.notGranted(env, addr, grant.message) };
    const holder = clientNameHolder(b, addr.cacheKey, this.ctx.caches.bindings.byIndex(BY_DEDICATED_HSM, addr.cacheKey));
    if (holder) {
      const who = holder.metadata.namespace === b.metadata.namespace ? `NtlsClientBinding ${holder.metadata.name}` : 'an NtlsClientBinding in another namespace';
      return {
        result: { hsm: hsmName, kind: 'conflict', message: `client name ${b.spec.clientName} on ${hsmName} belongs to ${who}; give this binding its own spec.clientName (a new binding) or remove ${hsmName} from its targets.` },
      };
    }
    const hsm = this.ctx.caches.dedicatedHsms.get(addr.cacheKey);
    if (!hsm) return { result: { hsm: hsmName, kind: 'notFound' } };
    const wait = waitingFor(hsm, hsmName);
    if (wait) return { result: { hsm: hsmName, kind: 'waiting', message: wait } };
    const access = await applianceAccess(this.ctx, hsm, env.reads, env.signal);
    if (!access.ok) {
      if (access.reason === 'NotProvisioned') return { result: { hsm: hsmName, kind: 'waiting', message: access.message } };
      // Across namespaces the tenant hears that the owners must act, not which of their Secrets is wrong.
      const message = addr.crossNamespace ? `the appliance credentials of DedicatedHsm ${hsmName} cannot be used (${access.reason}); its owners must fix them.` : access.message;
      return { result: { hsm: hsmName, kind: 'secretNotFound', reason: access.reason, message } };
    }
    const pair = env.pair;
    if (!pair) return { result: { hsm: hsmName, kind: 'noCertificate' } };
    const host = access.advertisedHost;
    const clientName = b.spec.clientName;
    const want: DesiredClient = { name: clientName, identity: b.spec.identity, partitions, cert: pair.facts };
    const granted = grant.grant;
    // Partitions a reader may hear about: all of them in its own namespace, only granted ones across namespaces.
    const visible = (label: string): boolean => !addr.crossNamespace || (granted !== undefined && this.grantedPartition(addr, granted.name, label));
    try {
      return await withAppliance(this.ctx, hsm, access, async (appliance) => {
        let seen = await readClient(appliance, clientName);
        const owner = ownership(b, prev, seen, pair.facts, hsmName);
        if (!owner.owned) return { result: { hsm: hsmName, kind: 'clientExists', host, message: owner.message } };
        if (owner.how === 'adopted') env.events.push({ type: 'Normal', reason: 'ClientAdopted', note: `${hsmName}: client ${clientName} taken over as ${Annotations.adoptClient} asks; it is managed by this binding from now on.` });
        const server = await appliance.serverCertificate();
        const plan = planClient(want, seen, env.force);
        const handed = handedOutFingerprint(env.handedOut, hsmName);
        const { client: clientDrift, server: serverDrift, found } = assessDrift(plan, {
          // A first registration is not drift; a client that disappears after the operator registered it is.
          everPushed: (prev?.pushes ?? 0) > 0 || prev?.registered === true,
          handedOut: handed,
          serverNow: server.facts.sha256,
          observe: env.mode === 'observe',
          lastReported: prev?.lastDrift?.message,
        });
        for (const d of found) this.ctx.metrics.ntlsDrift.inc({ kind: d.kind });
        if (found.length) {
          env.events.push({
            type: 'Warning',
            reason: 'DriftDetected',
            note: `${hsmName}: ${found.map((d) => d.message).join('; ')}; ${env.mode === 'manage' ? 're-pushing' : 'observe mode: not repaired'}.`,
          });
        }

        let pushed = false;
        let remaining: Drift[];
        if (env.mode === 'manage') {
          if (planChangesDevice(plan)) {
            const repush = clientDrift.length > 0 || env.force;
            try {
              await pushClient(appliance, { name: clientName, identity: clientIdentity(b.spec.identity), certPem: leafPem(pair.facts) }, plan);
            } catch (e) {
              if (repush) this.ctx.metrics.ntlsRepush.inc({ outcome: 'failed' });
              if (repush) env.events.push({ type: 'Warning', reason: 'RepushFailed', note: `${hsmName}: re-pushing client ${clientName} failed: ${e instanceof Error ? e.message : String(e)}` });
              throw e;
            }
            pushed = true;
            if (repush) this.ctx.metrics.ntlsRepush.inc({ outcome: 'succeeded' });
            env.events.push(
              repush
                ? { type: 'Normal', reason: 'Repushed', note: `${hsmName}: ${describePlan(clientName, plan)}.` }
                : { type: 'Normal', reason: 'Registered', note: `${hsmName}: ${describePlan(clientName, plan)}.` },
            );
            seen = await readClient(appliance, clientName);
          }
          remaining = planClient(want, seen).drifts;
        } else {
          remaining = [...plan.drifts, ...(serverDrift ? [serverDrift] : [])];
        }

        let probe: ProbeOutcome | undefined;
        if (seen.registered && remaining.every((d) => d.kind === 'serverCert')) {
          const r = await this.ctx.device.probeNtls({
            signal: env.signal,
            host: access.ntls.host,
            port: access.ntls.port,
            serverCertPem: server.pem,
            clientCertPem: pair.certPem,
            clientKeyPem: pair.keyPem,
            timeoutMs: this.ctx.settings.ntlsTimeoutMs,
          });
          probe = r.ok ? { ok: true } : { ok: false, reason: r.reason, message: r.message };
        }
        const result: TargetResult = {
          hsm: hsmName,
          kind: 'checked',
          host,
          observed: seen,
          expectedFingerprint: expectedFingerprint(pair.facts, seen.fingerprint),
          found,
          remaining,
          pushed,
          serverCertFingerprint: env.mode === 'manage' ? server.facts.sha256 : (handed ?? server.facts.sha256),
          probe,
          owned: seen.registered,
          ...(granted ? { grant: granted } : {}),
        };
        return { result, server: { hsm: hsmName, host, port: access.ntlsPort, serverPem: server.pem } };
      });
    } catch (e) {
      if (e instanceof PartitionNotFoundError) return { result: { hsm: hsmName, kind: 'partitionNotFound', host, message: `DedicatedHsm ${hsmName}: ${e.describe(visible)}.` } };
      const p = describeDeviceError(e, `DedicatedHsm ${hsmName}`);
      return { result: { hsm: hsmName, kind: 'deviceError', host, reason: p.reason === 'CommandFailed' ? 'ApplianceUnreachable' : p.reason, message: p.message } };
    }
  }

  /** A target removed from the spec: unregister the client there, then forget it. */
  private async removeTarget(b: NtlsClientBinding, hsmName: string, reads: SecretReads, events: EventNote[], signal: AbortSignal): Promise<TargetResult> {
    const r = await this.unregisterFrom(b, hsmName, reads, signal);
    if (!r.ok) return { hsm: hsmName, kind: 'removeFailed', reason: r.reason, message: r.message };
    if (r.changed) events.push({ type: 'Normal', reason: 'Unregistered', note: `${hsmName}: client ${b.spec.clientName} unregistered (no longer a target).` });
    if (r.note) events.push({ type: 'Warning', reason: 'ClientLeftRegistered', note: r.note });
    return { hsm: hsmName, kind: 'removed' };
  }

  private async unregisterFrom(b: NtlsClientBinding, hsmName: string, reads: SecretReads, signal: AbortSignal): Promise<Unregistered> {
    const addr = hsmAddressOfStatusKey(refOf(b).namespace, hsmName);
    const clientName = b.spec.clientName;
    // Only a client this binding registered (or took over) is its to delete; any other is left alone (invariant 7).
    if (!ownedBefore(b.status?.targets?.find((t) => t.dedicatedHsm === hsmName))) return { ok: true, changed: false };
    // The registration there belongs to another binding: not ours to delete.
    if (clientNameHolder(b, addr.cacheKey, this.ctx.caches.bindings.byIndex(BY_DEDICATED_HSM, addr.cacheKey))) return { ok: true, changed: false };
    const hsm: DedicatedHsm | undefined = this.ctx.caches.dedicatedHsms.get(addr.cacheKey);
    if (!hsm) {
      // Only worth a word when the client was registered there.
      const known = b.status?.targets?.find((t) => t.dedicatedHsm === hsmName)?.registered === true;
      if (!known) return { ok: true, changed: false };
      return {
        ok: true,
        changed: false,
        note: `DedicatedHsm ${hsmName} no longer exists, so client ${clientName} could not be unregistered there; if the HSM still exists, run "client delete -client ${clientName}" on it.`,
      };
    }
    const access = await applianceAccess(this.ctx, hsm, reads, signal);
    if (!access.ok) {
      // Never had an address: nothing was ever registered there.
      if (access.reason === 'NotProvisioned') return { ok: true, changed: false };
      return { ok: false, reason: access.reason, message: access.message, needsHuman: access.reason === 'CredentialNotOptedIn' };
    }
    try {
      const changed = await withAppliance(this.ctx, hsm, access, (appliance) => unregisterClient(appliance, clientName));
      return { ok: true, changed };
    } catch (e) {
      const p = describeDeviceError(e, `DedicatedHsm ${hsmName}`);
      return { ok: false, reason: p.reason === 'CommandFailed' ? 'ApplianceUnreachable' : p.reason, message: p.message, needsHuman: p.needsHuman };
    }
  }

  /**
   * A target no grant admits (any more). What the binding registered there under a grant is handled by that grant's
   * revocation policy, recorded when it last admitted the target: Unregister deletes the client, Orphan leaves it;
   * either way an Event says so, once, and the binding stops managing it.
   */
  private async notGranted(env: PassEnv, addr: HsmAddress, message: string): Promise<TargetResult> {
    const b = env.binding;
    const hsmName = addr.statusKey;
    const prev = env.prev.get(hsmName);
    const base = { hsm: hsmName, kind: 'notGranted' as const, message };
    if (!prev?.grant || !ownedBefore(prev) || env.mode !== 'manage') return base;
    if (prev.revocationPolicy === 'Unregister') {
      const r = await this.unregisterFrom(b, hsmName, env.reads, env.signal);
      if (!r.ok) return { hsm: hsmName, kind: 'removeFailed', reason: r.reason, message: r.message };
      env.events.push({ type: 'Warning', reason: 'GrantRevoked', note: `${hsmName}: no HsmGrant admits this binding any more; client ${b.spec.clientName} ${r.changed ? 'was unregistered' : 'was not registered'} there (revocationPolicy Unregister of grant ${prev.grant}).` });
    } else {
      env.events.push({ type: 'Warning', reason: 'GrantRevoked', note: `${hsmName}: no HsmGrant admits this binding any more; client ${b.spec.clientName} stays registered there and is no longer managed (revocationPolicy Orphan of grant ${prev.grant}).` });
    }
    return { ...base, revoked: true };
  }

  /** The other bindings' uses of this HSM (any namespace), for the grants' client count. */
  private otherRequests(b: NtlsClientBinding, addr: HsmAddress): GrantRequest[] {
    return addr.crossNamespace ? requestsFor(this.ctx.caches.bindings.byIndex(BY_DEDICATED_HSM, addr.cacheKey), addr, b.metadata.uid) : [];
  }

  private grantedPartition(addr: HsmAddress, grantName: string, label: string): boolean {
    const g = this.ctx.caches.grants.get(`${addr.namespace}/${grantName}`);
    return g !== undefined && partitionGranted(g.spec.partitions, label);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Output Secret

  private async writeOutput(
    b: NtlsClientBinding,
    outName: string,
    current: Parameters<OwnedSecrets['apply']>[2],
    handedOut: Record<string, string>,
    passes: readonly TargetPass[],
    pair: KeyPair,
    events: EventNote[],
  ): Promise<void> {
    const { namespace, name } = refOf(b);
    const servers: NtlsServer[] = [];
    for (const t of b.spec.targets) {
      const addr = hsmAddress(namespace, t.dedicatedHsmRef);
      const hsmName = addr.statusKey;
      const result = passes.find((p) => p.result.hsm === hsmName);
      const fresh = result?.server;
      if (fresh) {
        servers.push(fresh);
        continue;
      }
      // Not granted (any more), or someone else's client: nothing of that HSM is handed out.
      if (result?.result.kind === 'notGranted' || result?.result.kind === 'clientExists') continue;
      // Not read in this pass (unreachable, waiting): keep what was handed out, so a blip does not break clients.
      const kept = handedOut[serverCertKey(hsmName)];
      const hsm = this.ctx.caches.dedicatedHsms.get(addr.cacheKey);
      const host = hsm ? advertisedHost(hsm) : undefined;
      if (kept !== undefined && hsm && host) servers.push({ hsm: hsmName, host, port: hsm.spec.appliance.ntlsPort, serverPem: kept });
    }
    if (servers.length === 0) return;
    const data = outputSecretData(servers, { certPem: pair.certPem, keyPem: pair.keyPem });
    const outcome = await this.owned.apply(b, { namespace, name: outName, type: 'Opaque', data, labels: { ...MANAGED_BY_LABELS, [BINDING_LABEL]: name } }, current);
    if (outcome === 'created') {
      events.push({ type: 'Normal', reason: 'OutputSecretWritten', note: `Wrote Secret ${outName}: server certificates of ${servers.map((s) => s.hsm).join(', ')}, the client certificate and Chrystoki.conf.` });
    } else if (outcome === 'updated') {
      const changed = Object.keys({ ...handedOut, ...data })
        .filter((k) => handedOut[k] !== data[k])
        .sort();
      events.push({ type: 'Normal', reason: 'OutputSecretUpdated', note: `Updated Secret ${outName}: ${changed.join(', ') || 'metadata'}.` });
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Deletion

  private async finalize(b: NtlsClientBinding, pass: BindingPass, step: Step<NtlsClientBinding>): Promise<CleanupOutcome> {
    const key = `${refOf(b).namespace}/${refOf(b).name}`;
    const names = [...new Set([...b.spec.targets.map((t) => hsmAddress(refOf(b).namespace, t.dedicatedHsmRef).statusKey), ...(b.status?.targets ?? []).map((t) => t.dedicatedHsm)])];
    // The default: a prune (Argo CD, Flux) or a kubectl delete never cuts an application off its HSMs.
    if (b.spec.deletionPolicy !== 'Delete') {
      pass.event(
        'Normal',
        'Orphaned',
        `deletionPolicy Orphan: client ${b.spec.clientName} stays registered on ${names.join(', ')} with its partitions; nothing was sent to the HSMs. To remove it, run "client delete -client ${b.spec.clientName}" on each, or set spec.deletionPolicy: Delete before deleting.`,
        'Delete',
      );
      return { release: true };
    }
    if (step.mode === 'observe' || abandonRequested(b.metadata.annotations)) {
      const why = step.mode === 'observe' ? 'observe mode' : `${Annotations.abandon}=true`;
      pass.event('Warning', 'ClientLeftRegistered', `Deleted without unregistering client ${b.spec.clientName} from its HSMs (${why}).`);
      return { release: true };
    }
    const reads = new SecretReads(this.ctx.secrets, CONTROLLER_NAME, key, this.ctx.digest);
    const outcomes = await Promise.all(names.map(async (h) => ({ hsm: h, r: await this.unregisterFrom(b, h, reads, step.rc.signal) })));
    reads.done();
    for (const { hsm, r } of outcomes) {
      if (r.ok && r.changed) pass.event('Normal', 'Unregistered', `${hsm}: client ${b.spec.clientName} unregistered.`);
      if (r.ok && r.note) pass.event('Warning', 'ClientLeftRegistered', r.note);
    }
    const failed = outcomes.filter((o): o is { hsm: string; r: Extract<Unregistered, { ok: false }> } => !o.r.ok);
    if (failed.length === 0) return { release: true };
    const detail = failed.map((f) => f.r.message).join(' ');
    const first = failed[0]?.r;
    const needsHuman = failed.some((f) => f.r.needsHuman);
    pass.condition({ type: 'Registered', status: 'False', reason: first?.reason ?? 'ApplianceUnreachable', message: detail });
    pass.override = {
      status: 'False',
      reason: 'Deleting',
      severity: needsHuman ? 'needsHuman' : 'retrying',
      message: `Deleting: client ${b.spec.clientName} could not be unregistered from ${failed.map((f) => f.hsm).join(', ')} yet; the finalizer stays. ${detail} To delete without unregistering, set the annotation ${Annotations.abandon}: "true".`,
    };
    pass.event('Warning', 'UnregisterFailed', `Could not unregister client ${b.spec.clientName} from ${failed.map((f) => f.hsm).join(', ')}: ${detail}`);
    const timing = safeTiming(b, this.scale);
    if (needsHuman) return { outcome: { requeueAfter: timing.driftCheckMs } };
    throw new RetryableError(`unregistering from ${failed.map((f) => f.hsm).join(', ')} failed`, { retryAfterMs: Math.min(timing.driftCheckMs, RETRY_MS) });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Status helpers

  private forget(key: string): void {
    const { namespace, name } = splitKey(key);
    this.ctx.secrets.untrack(CONTROLLER_NAME, key);
    this.ctx.metrics.forget('NtlsClientBinding', { namespace: namespace ?? '', name });
  }
}

function safeTiming(b: NtlsClientBinding, scale: number): BindingTiming {
  try {
    return bindingTiming(b.spec, scale);
  } catch {
    return { driftCheckMs: 5 * 60_000, renewBeforeMs: undefined, generateDurationMs: undefined };
  }
}

function isTransient(r: TargetResult): boolean {
  if (r.kind === 'deviceError' || r.kind === 'removeFailed') return r.reason === 'ApplianceUnreachable';
  if (r.kind === 'checked') return r.probe !== undefined && !r.probe.ok;
  return false;
}

function describePlan(client: string, p: { unregister: boolean; register: boolean; assign: string[]; revoke: string[] }): string {
  const parts: string[] = [];
  if (p.unregister && p.register) parts.push(`client ${client} registered again with the current certificate`);
  else if (p.register) parts.push(`client ${client} registered`);
  if (p.assign.length) parts.push(`partition${p.assign.length > 1 ? 's' : ''} ${p.assign.join(', ')} assigned`);
  if (p.revoke.length) parts.push(`partition${p.revoke.length > 1 ? 's' : ''} ${p.revoke.join(', ')} revoked`);
  return parts.join(', ') || `client ${client} checked`;
}

/** Admission tells targets apart as written; `hsm1` and `{namespace: <own>, name: hsm1}` are still one HSM. */
function sameHsmTwice(b: NtlsClientBinding): void {
  const ns = refOf(b).namespace;
  const keys = b.spec.targets.map((t) => hsmAddress(ns, t.dedicatedHsmRef).statusKey);
  const twice = keys.find((k, i) => keys.indexOf(k) !== i);
  if (twice !== undefined) throw new Error(`spec.targets names DedicatedHsm ${twice} twice (once with its namespace, once without); list it once, with all its partitions`);
}
