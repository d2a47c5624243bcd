/**
 * Prometheus metrics of the HSM domain: what the three controllers saw on Azure and on the devices. The runtime's
 * metrics (reconciles, work queues, watches) live in src/runtime/metrics.ts; these sit beside them in the same
 * registry, so one scrape carries both and the alerts in charts/hsm-operator/files/ can join them.
 *
 * Handles are prom-client metrics behind narrow interfaces whose labels are typed with the domain's vocabulary, so
 * a controller cannot invent a label value that no dashboard knows. Per-object series are removed with `forget`
 * when the object goes away, so deleted HSMs do not linger as "down" forever.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConditionKind } from '../api/conditions.js';
import type { FailureClass } from '../azure/errors.js';
import { GUARD_ROLES, type GuardRole } from '../luna/guard.js';
import type { ObjectRef } from '../runtime/resource.js';

/** The three kinds, as the `kind` label spells them. */
export type ResourceKind = ConditionKind;
export const RESOURCE_KINDS: readonly ResourceKind[] = ['DedicatedHsm', 'NtlsClientBinding', 'HsmHaGroup'];

/** ARM provisioningState values of a dedicated HSM; any other string the API returns is reported as it is. */
export const PROVISIONING_STATES = ['CheckingQuota', 'Allocating', 'Connecting', 'Provisioning', 'Succeeded', 'Failed', 'Deleting'] as const;

/** A deployment attempt ends either `succeeded` or with the class its failure was classified as. */
export type DeploymentAttemptClass = FailureClass | 'succeeded';
export const DEPLOYMENT_ATTEMPT_CLASSES: readonly DeploymentAttemptClass[] = [
  'succeeded',
  'race',
  'quota',
  'capacity',
  'delegation',
  'notAllowlisted',
  'throttled',
  'transient',
  'auth',
  'invalid',
  'notFound',
  'conflict',
];

/** What an NTLS drift check found different on a target. */
export type NtlsDriftKind = 'registration' | 'clientCert' | 'partitions' | 'serverCert';
export const NTLS_DRIFT_KINDS: readonly NtlsDriftKind[] = ['registration', 'clientCert', 'partitions', 'serverCert'];

export type RepushOutcome = 'succeeded' | 'failed';
export const REPUSH_OUTCOMES: readonly RepushOutcome[] = ['succeeded', 'failed'];

/**
 * How an HA member recovery ended: `rateLimited` and `circuitOpen` are recoveries the operator decided not to run
 * (the rate limit or the circuit breaker held it back), counted so a dashboard shows a member that stays down.
 */
export type RecoveryOutcome = 'succeeded' | 'failed' | 'rateLimited' | 'circuitOpen';
export const RECOVERY_OUTCOMES: readonly RecoveryOutcome[] = ['succeeded', 'failed', 'rateLimited', 'circuitOpen'];

export type { ObjectRef } from '../runtime/resource.js';

export interface CounterHandle<L extends object> {
  inc(labels: L, value?: number): void;
}

export interface GaugeHandle<L extends object> {
  set(labels: L, value: number): void;
  remove(labels: L): void;
}

export interface HaMemberState {
  serial: string;
  up: boolean;
}

export interface HsmMetrics {
  /** One series per known state: 1 for the HSM's current provisioningState, 0 for the others. */
  setProvisioningState(hsm: ObjectRef, state: string | undefined): void;
  /** Counted when an ARM deployment (PUT and its long-running operation) ends. */
  readonly deploymentAttempts: CounterHandle<{ class: DeploymentAttemptClass }>;
  /** Since when the HSM waits for its ExpressRoute gateway (undefined: not waiting); the gauge is computed at scrape. */
  setGatewayWaitSince(hsm: ObjectRef, since: Date | undefined): void;
  readonly ntlsDrift: CounterHandle<{ kind: NtlsDriftKind }>;
  readonly ntlsRepush: CounterHandle<{ outcome: RepushOutcome }>;
  /** The whole member list of a group as just read: members absent from the list lose their series. */
  setHaMembers(group: ObjectRef, members: readonly HaMemberState[]): void;
  readonly haRecoveries: CounterHandle<{ outcome: RecoveryOutcome }>;
  /** Counted when the credential guard refuses an attempt with a credential version that was rejected before. */
  readonly credentialRefusals: CounterHandle<{ role: GuardRole }>;
  setApplianceReachable(hsm: ObjectRef, reachable: boolean): void;
  /** The client certificate's notAfter (undefined: no certificate yet); seconds until it are computed at scrape. */
  setClientCertNotAfter(binding: ObjectRef, notAfter: Date | undefined): void;
  /** undefined: not known yet (the appliance was never read), which removes the series rather than claim "missing". */
  setRebootPatchInstalled(hsm: ObjectRef, installed: boolean | undefined): void;
  setReady(kind: ResourceKind, ref: ObjectRef, ready: boolean): void;
  /** Removes every series of an object that is gone. */
  forget(kind: ResourceKind, ref: ObjectRef): void;
}

export const HSM_METRIC_NAMES = {
  provisioningState: 'hsm_operator_dedicatedhsm_provisioning_state',
  deploymentAttempts: 'hsm_operator_deployment_attempts_total',
  gatewayWait: 'hsm_operator_gateway_wait_seconds',
  ntlsDrift: 'hsm_operator_ntls_drift_total',
  ntlsRepush: 'hsm_operator_ntls_repush_total',
  haMemberUp: 'hsm_operator_hagroup_member_up',
  haRecoveries: 'hsm_operator_hagroup_recoveries_total',
  credentialRefusals: 'hsm_operator_credential_refusals_total',
  applianceReachable: 'hsm_operator_appliance_reachable',
  clientCertExpiry: 'hsm_operator_client_cert_expiry_seconds',
  rebootPatchInstalled: 'hsm_operator_reboot_patch_installed',
  resourceReady: 'hsm_operator_resource_ready',
} as const;

export type HsmMetricName = (typeof HSM_METRIC_NAMES)[keyof typeof HSM_METRIC_NAMES];
export const HSM_METRIC_NAME_LIST: readonly HsmMetricName[] = Object.values(HSM_METRIC_NAMES);

export interface HsmMetricsOptions {
  /** Milliseconds since the epoch; the scrape-time gauges read it. */
  now?: () => number;
}

const key = (ref: ObjectRef): string => `${ref.namespace}/${ref.name}`;
// Only the two label fields: callers may pass richer objects, and prom-client refuses labels it does not know.
const plain = (ref: ObjectRef): ObjectRef => ({ namespace: ref.namespace, name: ref.name });
const gauge01 = (b: boolean): number => (b ? 1 : 0);

/** Creates the HSM metrics in `registry`; call once per registry (prom-client refuses a name twice). */
export function createHsmMetrics(registry: Registry, options: HsmMetricsOptions = {}): HsmMetrics {
  const now = options.now ?? Date.now;
  const registers = [registry];

  const provisioningState = new Gauge<'namespace' | 'name' | 'state'>({
    name: HSM_METRIC_NAMES.provisioningState,
    help: 'ARM provisioningState of each DedicatedHsm: 1 for the current state, 0 for the others',
    labelNames: ['namespace', 'name', 'state'],
    registers,
  });
  const deploymentAttempts = new Counter<'class'>({
    name: HSM_METRIC_NAMES.deploymentAttempts,
    help: 'Dedicated HSM deployment attempts by how they ended: succeeded or the failure class (race, quota, delegation, ...)',
    labelNames: ['class'],
    registers,
  });
  const gatewayWaitSince = new Map<string, { ref: ObjectRef; since: number }>();
  const gatewayWait = new Gauge<'namespace' | 'name'>({
    name: HSM_METRIC_NAMES.gatewayWait,
    help: 'Seconds a DedicatedHsm has been waiting for its ExpressRoute gateway to be Succeeded (absent when not waiting)',
    labelNames: ['namespace', 'name'],
    registers,
    collect() {
      const t = now();
      for (const { ref, since } of gatewayWaitSince.values()) this.set(ref, Math.max(0, (t - since) / 1000));
    },
  });
  const ntlsDrift = new Counter<'kind'>({
    name: HSM_METRIC_NAMES.ntlsDrift,
    help: 'NTLS drift detections by what differed on the HSM (registration, clientCert, partitions, serverCert)',
    labelNames: ['kind'],
    registers,
  });
  const ntlsRepush = new Counter<'outcome'>({
    name: HSM_METRIC_NAMES.ntlsRepush,
    help: 'NTLS client configuration re-pushes by outcome',
    labelNames: ['outcome'],
    registers,
  });
  const haMemberUp = new Gauge<'namespace' | 'group' | 'serial'>({
    name: HSM_METRIC_NAMES.haMemberUp,
    help: 'HA group member state as hagroup listgroups reports it: 1 alive, 0 down',
    labelNames: ['namespace', 'group', 'serial'],
    registers,
  });
  const haRecoveries = new Counter<'outcome'>({
    name: HSM_METRIC_NAMES.haRecoveries,
    help: 'HA member recoveries by outcome (rateLimited and circuitOpen: held back by the operator)',
    labelNames: ['outcome'],
    registers,
  });
  const credentialRefusals = new Counter<'role'>({
    name: HSM_METRIC_NAMES.credentialRefusals,
    help: 'Attempts the credential guard refused because that credential version was rejected before',
    labelNames: ['role'],
    registers,
  });
  const applianceReachable = new Gauge<'namespace' | 'name'>({
    name: HSM_METRIC_NAMES.applianceReachable,
    help: 'Whether the appliance answered over SSH with the pinned host key: 1 yes, 0 no',
    labelNames: ['namespace', 'name'],
    registers,
  });
  const certNotAfter = new Map<string, { ref: ObjectRef; notAfter: number }>();
  const clientCertExpiry = new Gauge<'namespace' | 'name'>({
    name: HSM_METRIC_NAMES.clientCertExpiry,
    help: "Seconds until an NtlsClientBinding's client certificate expires (negative once expired)",
    labelNames: ['namespace', 'name'],
    registers,
    collect() {
      const t = now();
      for (const { ref, notAfter } of certNotAfter.values()) this.set(ref, (notAfter - t) / 1000);
    },
  });
  const rebootPatchInstalled = new Gauge<'namespace' | 'name'>({
    name: HSM_METRIC_NAMES.rebootPatchInstalled,
    help: 'Whether the Thales reboot-hang patch (KB0019789) is installed on the appliance: 1 yes, 0 no',
    labelNames: ['namespace', 'name'],
    registers,
  });
  const resourceReady = new Gauge<'kind' | 'namespace' | 'name'>({
    name: HSM_METRIC_NAMES.resourceReady,
    help: 'Whether the object is Ready (its Ready condition is True): 1 yes, 0 no',
    labelNames: ['kind', 'namespace', 'name'],
    registers,
  });

  // Zero the counters of known label values, so rate() and increase() see the first event and dashboards show 0.
  for (const c of DEPLOYMENT_ATTEMPT_CLASSES) deploymentAttempts.inc({ class: c }, 0);
  for (const k of NTLS_DRIFT_KINDS) ntlsDrift.inc({ kind: k }, 0);
  for (const o of REPUSH_OUTCOMES) ntlsRepush.inc({ outcome: o }, 0);
  for (const o of RECOVERY_OUTCOMES) haRecoveries.inc({ outcome: o }, 0);
  for (const r of GUARD_ROLES) credentialRefusals.inc({ role: r }, 0);

  // States set per HSM beyond the known ones, and serials per group, so their series can be removed later.
  const extraStates = new Map<string, Set<string>>();
  const groupSerials = new Map<string, Set<string>>();

  function removeProvisioningState(ref: ObjectRef): void {
    const states = [...PROVISIONING_STATES, ...(extraStates.get(key(ref)) ?? [])];
    for (const state of states) provisioningState.remove({ ...plain(ref), state });
    extraStates.delete(key(ref));
  }

  function removeHaMembers(group: ObjectRef, keep: ReadonlySet<string> = new Set()): void {
    const seen = groupSerials.get(key(group));
    if (!seen) return;
    for (const serial of seen) {
      if (keep.has(serial)) continue;
      haMemberUp.remove({ namespace: group.namespace, group: group.name, serial });
      seen.delete(serial);
    }
    if (seen.size === 0) groupSerials.delete(key(group));
  }

  return {
    setProvisioningState(hsm, state) {
      if (state === undefined) return removeProvisioningState(hsm);
      const known = (PROVISIONING_STATES as readonly string[]).includes(state);
      const extras = extraStates.get(key(hsm));
      for (const old of extras ?? []) if (old !== state) provisioningState.remove({ ...plain(hsm), state: old });
      if (known) extraStates.delete(key(hsm));
      else extraStates.set(key(hsm), new Set([state]));
      for (const s of PROVISIONING_STATES) provisioningState.set({ ...plain(hsm), state: s }, gauge01(s === state));
      if (!known) provisioningState.set({ ...plain(hsm), state }, 1);
    },
    deploymentAttempts,
    setGatewayWaitSince(hsm, since) {
      if (since === undefined) {
        gatewayWaitSince.delete(key(hsm));
        gatewayWait.remove(plain(hsm));
      } else {
        gatewayWaitSince.set(key(hsm), { ref: plain(hsm), since: since.getTime() });
      }
    },
    ntlsDrift,
    ntlsRepush,
    setHaMembers(group, members) {
      const serials = new Set(members.map((m) => m.serial));
      removeHaMembers(group, serials);
      if (serials.size > 0) groupSerials.set(key(group), new Set([...(groupSerials.get(key(group)) ?? []), ...serials]));
      for (const m of members) haMemberUp.set({ namespace: group.namespace, group: group.name, serial: m.serial }, gauge01(m.up));
    },
    haRecoveries,
    credentialRefusals,
    setApplianceReachable(hsm, reachable) {
      applianceReachable.set(plain(hsm), gauge01(reachable));
    },
    setClientCertNotAfter(binding, notAfter) {
      if (notAfter === undefined) {
        certNotAfter.delete(key(binding));
        clientCertExpiry.remove(plain(binding));
      } else {
        certNotAfter.set(key(binding), { ref: plain(binding), notAfter: notAfter.getTime() });
      }
    },
    setRebootPatchInstalled(hsm, installed) {
      if (installed === undefined) rebootPatchInstalled.remove(plain(hsm));
      else rebootPatchInstalled.set(plain(hsm), gauge01(installed));
    },
    setReady(kind, ref, ready) {
      resourceReady.set({ kind, namespace: ref.namespace, name: ref.name }, gauge01(ready));
    },
    forget(kind, ref) {
      const r = plain(ref);
      resourceReady.remove({ kind, ...r });
      switch (kind) {
        case 'DedicatedHsm':
          removeProvisioningState(r);
          gatewayWaitSince.delete(key(r));
          gatewayWait.remove(r);
          applianceReachable.remove(r);
          rebootPatchInstalled.remove(r);
          break;
        case 'NtlsClientBinding':
          certNotAfter.delete(key(r));
          clientCertExpiry.remove(r);
          break;
        case 'HsmHaGroup':
          removeHaMembers(r);
          break;
      }
    },
  };
}
