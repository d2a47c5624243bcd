/**
 * What every controller is handed: the manager (client, caches, status writer, events), the device and Azure planes
 * (two narrow interfaces: controllers never see the SSH pool or the SDK clients), the shared credential guard, and
 * the operator's settings. Built once in src/operator.ts.
 */
import type { DedicatedHsm, HsmGrant, HsmHaGroup, NtlsClientBinding } from '../../api/index.js';
import type { AzurePlane, QuotaLimits } from '../../azure/index.js';
import type { CredentialGuard, DevicePlane } from '../../luna/index.js';
import type { HsmMetrics } from '../../observability/hsm-metrics.js';
import type { Clock, Informer, KubeObject, Logger, Manager, SecretCache } from '../../runtime/index.js';
import type { CredentialDigest } from './credential-digest.js';
import type { EndpointResolver } from './endpoints.js';
import type { TenancyPolicy } from './tenancy-policy.js';

/** Azure credentials as a DedicatedHsm asks for them: the operator's identity, or a client secret it read. */
export type AzureCredentialRequest = { kind: 'default' } | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: string };

export interface OperatorSettings {
  /** Default periodic re-sync of a DedicatedHsm when its spec says nothing (ms). */
  defaultResyncMs: number;
  /** First and longest wait while the ExpressRoute gateway is not Succeeded (ms). */
  gatewayWaitInitialMs: number;
  gatewayWaitMaxMs: number;
  /** Re-check interval for failures a human must fix (quota, delegation, ...) (ms). */
  needsHumanRecheckMs: number;
  /** How long to wait for an NTLS TCP connect or handshake (ms). */
  ntlsTimeoutMs: number;
  /**
   * How often an Azure long-running operation (HSM create/delete) is polled (ms). Default: growing with the time
   * the operation has run, from gatewayWaitInitialMs up to 30 s.
   */
  operationPollMs?: number;
  /** The subscription's Dedicated HSM quota when raised above the initial 2 per stamp / 4 per region. */
  quotaLimits?: QuotaLimits;
  /**
   * How long a create may stay in flight before the operator stops calling it progress and asks a human (ms).
   * Deployments take 25-30 minutes; default 2 h. The operator keeps watching it (never a second PUT).
   */
  operationTimeoutMs?: number;
}

export const DEFAULT_SETTINGS: OperatorSettings = {
  defaultResyncMs: 10 * 60_000,
  gatewayWaitInitialMs: 10_000,
  gatewayWaitMaxMs: 5 * 60_000,
  needsHumanRecheckMs: 15 * 60_000,
  ntlsTimeoutMs: 5_000,
};

export interface OperatorContext {
  manager: Manager;
  log: Logger;
  clock: Clock;
  caches: {
    dedicatedHsms: Informer<DedicatedHsm>;
    bindings: Informer<NtlsClientBinding>;
    haGroups: Informer<HsmHaGroup>;
    /** HsmGrants of the served namespaces: who may use which HSMs across namespaces. */
    grants: Informer<HsmGrant>;
    /** Namespaces (their labels, for grants' namespaceSelector). */
    namespaces: Informer<KubeObject>;
  };
  secrets: SecretCache;
  /** The device plane: appliances, LunaCM hosts, zeroize, the NTLS and TCP probes, host keys seen on first use. */
  device: DevicePlane;
  guard: CredentialGuard;
  /** Keyed digest of a credential value, which the guard compares (a Secret's metadata changes lift nothing). */
  digest: CredentialDigest;
  /** An Azure plane for the credentials a DedicatedHsm asks for (cached per credential). */
  azure: (request: AzureCredentialRequest) => AzurePlane;
  resolve: EndpointResolver;
  metrics: HsmMetrics;
  settings: OperatorSettings;
  /**
   * The platform team's tenancy policy (tenancy-policy.ts): which subscriptions, resource groups and Azure identity
   * each namespace's DedicatedHsms may use. Undefined: single-tenant mode, every namespace as before.
   */
  tenancy?: TenancyPolicy;
}
