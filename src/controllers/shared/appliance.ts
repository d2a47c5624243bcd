/**
 * Reaching the Luna appliance of a DedicatedHsm: every controller that talks to an appliance (the DedicatedHsm
 * controller observing it, bindings registering clients, HA groups checking members) goes through here, so host-key
 * pinning, the credential guard and its persistence behave the same everywhere.
 */
import type { DedicatedHsm } from '../../api/index.js';
import { DedicatedHsmKind, GROUP, VERSION } from '../../api/index.js';
import { AuthenticationRejectedError, guardHostOf, type ApplianceOps, type HostKeyPolicy, type SshEndpoint } from '../../luna/index.js';
import type { ResourceType } from '../../runtime/index.js';
import type { OperatorContext } from './context.js';
import type { DeviceAddress } from './endpoints.js';
import { fromStatusRecords, toStatusRecords, type GuardStatusRecord } from './guard-status.js';
import type { SecretReads, SecretReason } from './secrets.js';
import { applyBudgetReset, hostKeyPolicyFor } from './ssh-endpoint.js';

export const DedicatedHsmType: ResourceType = { group: GROUP, version: VERSION, plural: DedicatedHsmKind.plural, kind: DedicatedHsmKind.kind, namespaced: true };

export interface ApplianceAccess {
  ok: true;
  /** SSH endpoint (already resolved, credential attached, host key policy set). */
  endpoint: SshEndpoint;
  /** NTLS address (resolved). */
  ntls: DeviceAddress;
  /** The address as the spec/Azure names it (for messages and Chrystoki.conf). */
  advertisedHost: string;
  ntlsPort: number;
  /** Bound to the signal `applianceAccess` was given: every command honours it. */
  appliance: ApplianceOps;
}

export interface ApplianceUnavailable {
  ok: false;
  reason: 'NotProvisioned' | SecretReason;
  message: string;
}

/** The address clients use: the spec's host, else the NIC's private IP once Azure assigned one. */
export function advertisedHost(hsm: DedicatedHsm): string | undefined {
  return hsm.spec.appliance.host ?? hsm.status?.privateIpAddress ?? undefined;
}

function hostKeyPolicy(hsm: DedicatedHsm): HostKeyPolicy {
  // The schema only lets hostKey be absent with an explicit insecureTrustOnFirstUse: true. A key the operator
  // already saw is pinned from then on, so trust-on-first-use really is first use only.
  return hostKeyPolicyFor(hsm.spec.appliance.hostKey, hsm.status?.appliance?.hostKeyFingerprint);
}

/**
 * Resolves how to reach the appliance of `hsm`; reads its credential Secret through `secrets`. `signal` (the
 * reconcile's `rc.signal`) is honoured by every command of the returned appliance.
 */
export async function applianceAccess(ctx: OperatorContext, hsm: DedicatedHsm, secrets: SecretReads, signal?: AbortSignal): Promise<ApplianceAccess | ApplianceUnavailable> {
  const host = advertisedHost(hsm);
  if (!host) return { ok: false, reason: 'NotProvisioned', message: `DedicatedHsm ${hsm.metadata.name} has no appliance address yet (waiting for Azure to assign the NIC IP).` };
  const a = hsm.spec.appliance;
  const namespace = hsm.metadata.namespace ?? 'default';
  const cred = await secrets.credential(namespace, a.credentialsRef.name, a.credentialsRef.key, { kind: 'DedicatedHsm', name: hsm.metadata.name ?? '' });
  if (!cred.ok) return { ok: false, reason: cred.reason, message: `appliance credentials: ${cred.message}` };
  // Records persisted by earlier processes refuse a credential that was already rejected (invariant 1).
  ctx.guard.merge(fromStatusRecords(hsm.status?.credentialGuard).filter((r) => r.role === 'appliance-ssh'));
  const ssh = ctx.resolve({ host, port: a.port }, 'ssh');
  const ntls = ctx.resolve({ host, port: a.ntlsPort }, 'ntls');
  const endpoint: SshEndpoint = {
    host: ssh.host,
    port: ssh.port,
    username: a.username,
    credential: { password: cred.value, secret: cred.version },
    hostKey: hostKeyPolicy(hsm),
    role: 'appliance-ssh',
    ...(a.maxChannels !== undefined ? { maxChannels: a.maxChannels } : {}),
  };
  applyBudgetReset(ctx, hsm.metadata.annotations, endpoint, ['appliance-ssh']);
  return { ok: true, endpoint, ntls, advertisedHost: host, ntlsPort: a.ntlsPort, appliance: ctx.device.appliance(endpoint, signal ? { signal } : {}) };
}

/** The guard key of an SSH endpoint, as the pool records it: `host:port`. */
export function guardHost(endpoint: SshEndpoint): string {
  return guardHostOf(endpoint.host, endpoint.port ?? 22);
}

/**
 * Runs device work against an appliance; when its credential is rejected, the guard's record is written to the
 * DedicatedHsm's status before the error goes on, so a restart cannot spend the same wrong password again.
 */
export async function withAppliance<T>(ctx: OperatorContext, hsm: DedicatedHsm, access: ApplianceAccess, work: (appliance: ApplianceOps) => Promise<T>): Promise<T> {
  try {
    return await work(access.appliance);
  } catch (e) {
    if (e instanceof AuthenticationRejectedError) await persistGuard(ctx, hsm, access.endpoint);
    throw e;
  }
}

/**
 * The guard's appliance-SSH records a DedicatedHsm keeps in its status: those of its appliance (host:port) made with
 * Secrets of its own namespace. Only that role: the LunaCM and group-password records belong to the HsmHaGroup that
 * owns those credentials; and never another namespace's Secret names (every namespace persists its own rejections,
 * which is what the budget counts after a restart).
 */
export function applianceGuardRecords(ctx: OperatorContext, hsm: DedicatedHsm, host: string): GuardStatusRecord[] {
  const ns = `${hsm.metadata.namespace ?? 'default'}/`;
  return toStatusRecords(ctx.guard.export().filter((r) => r.role === 'appliance-ssh' && r.host === host && (r.secretName === undefined || r.secretName.startsWith(ns))));
}

/** Writes the guard's appliance-SSH records for this appliance into the DedicatedHsm's status (only if they differ). */
export async function persistGuard(ctx: OperatorContext, hsm: DedicatedHsm, endpoint: SshEndpoint): Promise<void> {
  const records = applianceGuardRecords(ctx, hsm, guardHost(endpoint));
  await ctx.manager.status.update(DedicatedHsmType, hsm, (status) => {
    const s = status as NonNullable<DedicatedHsm['status']>;
    if (records.length) s.credentialGuard = records;
    else delete s.credentialGuard;
  }, { strategy: 'merge', observedGeneration: false });
}
