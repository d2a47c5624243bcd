/**
 * The composition root: one Manager, the three caches, the Secret cache, the SSH pool and credential guard under the
 * device plane, the Azure planes, the HSM metrics, and the three controllers. main.ts (a real cluster) and the sandbox (a local
 * world) both build the operator here; they differ only in the options.
 */
import { DedicatedHsmKind, GROUP, HsmGrantKind, HsmHaGroupKind, NtlsClientBindingKind, VERSION, type DedicatedHsm, type HsmGrant, type HsmHaGroup, type NtlsClientBinding } from './api/index.js';
import { AzurePlaneCache, type ArmConnection, type CredentialSource } from './azure/index.js';
import { registerDedicatedHsmController } from './controllers/dedicatedhsm/index.js';
import { registerHsmHaGroupController } from './controllers/hsmhagroup/index.js';
import { registerNtlsClientBindingController } from './controllers/ntlsclientbinding/index.js';
import {
  DEFAULT_DIGEST_KEY_SECRET,
  DEFAULT_SETTINGS,
  dialAsIs,
  secretKeyedDigest,
  type DigestKeyRef,
  type AzureCredentialRequest,
  type EndpointResolver,
  type OperatorContext,
  type OperatorSettings,
  type TenancyPolicy,
} from './controllers/shared/index.js';
import { CredentialGuard, SshDevicePlane, SshPool, type CredentialBudget, type SshPoolOptions } from './luna/index.js';
import { createHsmMetrics } from './observability/hsm-metrics.js';
import { CoreTypes, Manager, realClock, type KubeObject, type ManagerOptions, type ResourceType } from './runtime/index.js';

export const ResourceTypes = {
  dedicatedHsms: { group: GROUP, version: VERSION, plural: DedicatedHsmKind.plural, kind: DedicatedHsmKind.kind, namespaced: true },
  bindings: { group: GROUP, version: VERSION, plural: NtlsClientBindingKind.plural, kind: NtlsClientBindingKind.kind, namespaced: true },
  haGroups: { group: GROUP, version: VERSION, plural: HsmHaGroupKind.plural, kind: HsmHaGroupKind.kind, namespaced: true },
  grants: { group: GROUP, version: VERSION, plural: HsmGrantKind.plural, kind: HsmGrantKind.kind, namespaced: true },
} as const satisfies Record<string, ResourceType>;

export interface OperatorOptions {
  manager: ManagerOptions;
  azure: { connection: ArmConnection; defaultCredential: CredentialSource };
  /** How device addresses are dialled (the sandbox maps them to simulators). */
  resolve?: EndpointResolver;
  ssh?: Omit<SshPoolOptions, 'guard'>;
  settings?: Partial<OperatorSettings>;
  /**
   * The Secret holding the key of credential digests (created on first use). Default: hsm-operator-credential-digest-key
   * in the leader-election namespace, else the first watched namespace, else "default".
   */
  credentialDigestKey?: DigestKeyRef;
  /**
   * The platform team's tenancy policy (`run --tenancy-policy`): which subscriptions, resource groups and Azure
   * identity each namespace may use. Default: none, single-tenant mode.
   */
  tenancy?: TenancyPolicy;
  /**
   * The failed-login budget per appliance (host:port) and role (default DEFAULT_CREDENTIAL_BUDGET: 3 distinct rejected
   * values in 24 h); spent, no new value is tried until a human resets it (dedicatedhsm.io/credential-budget-reset).
   */
  credentialBudget?: CredentialBudget;
  /** Controllers to run (default all three). */
  controllers?: ('dedicatedhsm' | 'ntlsclientbinding' | 'hsmhagroup')[];
  /**
   * Compressed time, for the sandbox and the tests only: no operator setting, and `hsm-operator run` never sets it.
   * The durations an NtlsClientBinding spec declares (driftCheckInterval, certificate.generate.duration,
   * certificate.renewBefore) are multiplied by `ntlsSpecScale` (1/60 turns 5m into 5s), because the CRD refuses
   * drift intervals under 30s and certificate lifetimes under 1h. Default: real time.
   */
  compressedTime?: { ntlsSpecScale: number };
}

export interface Operator {
  manager: Manager;
  context: OperatorContext;
  /** The SSH pool under `context.device` (counters, blocked hosts): controllers never see it, tests and metrics may. */
  ssh: SshPool;
  start(): Promise<void>;
  stop(deadlineMs?: number, options?: { releaseLease?: boolean }): Promise<void>;
}

/** The caches every controller reads, from a manager (the operator's, or plan's read-only one). */
export function operatorCaches(manager: Pick<Manager, 'informer'>): OperatorContext['caches'] {
  return {
    dedicatedHsms: manager.informer<DedicatedHsm>(ResourceTypes.dedicatedHsms),
    bindings: manager.informer<NtlsClientBinding>(ResourceTypes.bindings),
    haGroups: manager.informer<HsmHaGroup>(ResourceTypes.haGroups),
    grants: manager.informer<HsmGrant>(ResourceTypes.grants),
    namespaces: manager.informer<KubeObject>(CoreTypes.namespaces),
  };
}

export function buildOperator(opts: OperatorOptions): Operator {
  const manager = new Manager(opts.manager);
  const guard = new CredentialGuard(opts.credentialBudget ? { budget: opts.credentialBudget } : {});
  // Fencing: with leader election on, nothing reaches a device or Azure unless this process still holds the Lease
  // (by its own clock), so a leader that lost it, or froze past its renew deadline, cannot act next to its successor.
  const fence = opts.manager.leaderElection ? () => manager.isLeader() : undefined;
  const ssh = new SshPool({ ...opts.ssh, guard, ...(fence ? { fence } : {}) });
  const planes = new AzurePlaneCache(fence ? { ...opts.azure.connection, fence } : opts.azure.connection);
  const azure = (req: AzureCredentialRequest) => planes.get(req.kind === 'default' ? opts.azure.defaultCredential : req);
  const context: OperatorContext = {
    manager,
    log: manager.log,
    clock: opts.manager.clock ?? realClock,
    caches: operatorCaches(manager),
    secrets: manager.secrets(),
    device: new SshDevicePlane(ssh),
    guard,
    digest: secretKeyedDigest(manager.client, opts.credentialDigestKey ?? {
      namespace: (opts.manager.leaderElection ? opts.manager.leaderElection.namespace : opts.manager.namespaces?.[0]) ?? 'default',
      name: DEFAULT_DIGEST_KEY_SECRET,
    }),
    azure,
    resolve: opts.resolve ?? dialAsIs,
    metrics: createHsmMetrics(manager.metrics.registry),
    settings: { ...DEFAULT_SETTINGS, ...opts.settings },
    ...(opts.tenancy ? { tenancy: opts.tenancy } : {}),
  };
  const enabled = new Set(opts.controllers ?? ['dedicatedhsm', 'ntlsclientbinding', 'hsmhagroup']);
  if (enabled.has('dedicatedhsm')) registerDedicatedHsmController(context);
  if (enabled.has('ntlsclientbinding')) registerNtlsClientBindingController(context, opts.compressedTime?.ntlsSpecScale);
  if (enabled.has('hsmhagroup')) registerHsmHaGroupController(context);
  return {
    manager,
    context,
    ssh,
    start: () => manager.start(),
    async stop(deadlineMs, options) {
      await manager.stop(deadlineMs, options);
      await ssh.close();
    },
  };
}
