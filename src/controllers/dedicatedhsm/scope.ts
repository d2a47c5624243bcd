/**
 * What the platform team's tenancy policy (controllers/shared/tenancy-policy.ts) lets a DedicatedHsm reach in
 * Azure: the one place that decides it. Pure. credentials.ts asks it before any Azure call and picks the identity it
 * names; observe.ts asks it before reading an ARM ID Azure handed back (the NIC); the duplicate rule (duplicates.ts)
 * counts only objects it permits. Without a policy everything is permitted, as before (single-tenant mode).
 */
import type { DedicatedHsm } from '../../api/index.js';
import { parseArmId } from '../../azure/index.js';
import type { NamespacePolicy, PolicySecret, TenancyPolicy } from '../shared/tenancy-policy.js';

/** The identity a permitted DedicatedHsm acts as. */
export type ScopeIdentity =
  /** The operator's own identity (workload identity, the default chain). */
  | { kind: 'operator' }
  /** The service principal Secret its own spec names (spec.azure.credentialsRef, in its namespace). */
  | { kind: 'tenant' }
  /** The service principal the platform team's policy names for its namespace (a Secret of the operator's namespace). */
  | { kind: 'platform'; secret: PolicySecret };

export type Scope = { permitted: true; identity: ScopeIdentity } | { permitted: false; message: string };

const WHO = "the platform team must change the operator's tenancy policy";

function subscriptionOf(id: string): string | undefined {
  try {
    return parseArmId(id).subscriptionId.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Whether `hsm`'s namespace may touch this ARM resource ID at all (its subscription is one the policy allows it). */
export function idPermitted(policy: TenancyPolicy | undefined, hsm: DedicatedHsm, id: string): boolean {
  if (!policy) return true;
  const entry = policy.namespaces.get(hsm.metadata.namespace ?? '');
  if (!entry) return policy.globalIdentity === 'allNamespaces';
  const sub = subscriptionOf(id);
  return sub !== undefined && entry.subscriptions.has(sub);
}

/** The one scope rule: may this DedicatedHsm reach Azure where its spec says, and as whom. */
export function scopeOf(policy: TenancyPolicy | undefined, hsm: DedicatedHsm): Scope {
  const tenant = hsm.spec.azure.credentialsRef?.name ? true : false;
  const unrestricted: Scope = { permitted: true, identity: tenant ? { kind: 'tenant' } : { kind: 'operator' } };
  if (!policy) return unrestricted;
  const ns = hsm.metadata.namespace ?? '';
  const entry = policy.namespaces.get(ns);
  if (!entry) {
    if (policy.globalIdentity === 'allNamespaces') return unrestricted;
    return {
      permitted: false,
      message: `Namespace ${ns} is not named in the operator's tenancy policy, which lets only the namespaces it names reach Azure (globalIdentity: onlyListed). To deploy from here, ${WHO} to name ${ns} with its subscriptions, resource groups and identity.`,
    };
  }
  if (tenant && entry.tenantCredentials === 'refused') {
    return {
      permitted: false,
      message: `The operator's tenancy policy does not let namespace ${ns} name its own Azure credentials (spec.azure.credentialsRef). Remove spec.azure.credentialsRef to act as the identity the platform team chose for ${ns}, or ${WHO} (tenantCredentials: allowed).`,
    };
  }
  const denied = notAllowed(entry, ns, hsm);
  if (denied) return { permitted: false, message: denied };
  if (tenant) return { permitted: true, identity: { kind: 'tenant' } };
  return { permitted: true, identity: entry.identity.kind === 'operator' ? { kind: 'operator' } : { kind: 'platform', secret: entry.identity } };
}

function notAllowed(entry: NamespacePolicy, ns: string, hsm: DedicatedHsm): string | undefined {
  const a = hsm.spec.azure;
  const allowed = [...entry.subscriptions.keys()].join(', ');
  const groups = entry.subscriptions.get(a.subscriptionId.toLowerCase());
  if (!groups) {
    return `Subscription ${a.subscriptionId} is not allowed for namespace ${ns} by the operator's tenancy policy (allowed: ${allowed}). Nothing is sent to Azure: use an allowed subscription, or ${WHO} to allow it for ${ns}.`;
  }
  if (!groups.has('*') && !groups.has(a.resourceGroup.toLowerCase())) {
    return `Resource group ${a.resourceGroup} of subscription ${a.subscriptionId} is not allowed for namespace ${ns} by the operator's tenancy policy (allowed there: ${[...groups].join(', ')}). Nothing is sent to Azure: use an allowed resource group, or ${WHO} to allow it for ${ns}.`;
  }
  for (const [field, id] of [
    ['spec.azure.subnetId', a.subnetId],
    ['spec.azure.expressRouteGatewayId', a.expressRouteGatewayId],
  ] as const) {
    const sub = subscriptionOf(id);
    if (sub === undefined || !entry.subscriptions.has(sub)) {
      return `${field} is in a subscription the operator's tenancy policy does not allow for namespace ${ns} (allowed: ${allowed}). Nothing is sent to Azure: use a network in an allowed subscription, or ${WHO}.`;
    }
  }
  return undefined;
}
