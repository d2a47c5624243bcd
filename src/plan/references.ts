/**
 * NtlsClientBindings and HsmHaGroups, planned from the cluster alone (no appliance or LunaCM host is read for them):
 * what exists, what they reference (DedicatedHsms in the cluster or in the same change, Secrets), what would stop
 * them, and what the API server would refuse. The reasons are the controllers' own (NotGranted, decided by the
 * controllers' grant rule, TargetNotFound, WaitingForDedicatedHsm, SecretNotFound); the operator's last reading of
 * the device side stays as it is in status.
 */
import { HsmGrantDefinition, HsmHaGroupDefinition, NtlsClientBindingDefinition, reconcileMode, Annotations, type DedicatedHsm, type HsmGrant, type HsmHaGroup, type KindDefinition, type NtlsClientBinding } from '../api/index.js';
import { resourceTypeOf } from '../cli/resources.js';
import { ResourceTypes } from '../operator.js';
import { requestsFor } from '../controllers/ntlsclientbinding/ownership.js';
import { decideGrant, hsmAddress, hsmAddressOfStatusKey, labelRequired, type GrantRequest, type HsmAddress } from '../controllers/shared/grants.js';
import { CoreTypes, type Condition, type KubeClient, type KubeObject } from '../runtime/index.js';
import { immutableChanges, schemaErrors, withDefaults } from './admission.js';
import type { Manifest } from './manifests.js';
import { plannedCheck, startPlan } from './object-plan.js';
import type { ObjectPlan, PlannedCheck } from './types.js';

type RefKind = 'NtlsClientBinding' | 'HsmHaGroup';
type Obj = NtlsClientBinding | HsmHaGroup;

const DEFINITIONS: Record<RefKind, KindDefinition> = { NtlsClientBinding: NtlsClientBindingDefinition, HsmHaGroup: HsmHaGroupDefinition };

export interface RefPlanInput {
  client: KubeClient;
  kind: RefKind;
  source: string;
  manifest: Manifest;
  namespace: string;
  live: Obj | undefined;
  /** DedicatedHsms of the same change, by `namespace/name`. */
  inChange: ReadonlyMap<string, DedicatedHsm>;
  /** HsmGrants of the same change (they count as applied: the plan is of the whole change). */
  grantsInChange?: readonly HsmGrant[];
}

export async function planReferences(i: RefPlanInput): Promise<ObjectPlan> {
  const def = DEFINITIONS[i.kind];
  const spec = withDefaults(def, i.manifest.spec);
  const name = i.manifest.metadata.name ?? '';
  const live = i.live;
  const plan = startPlan({ kind: i.kind, namespace: i.namespace, name, source: i.source, live, spec, action: 'not-planned' });
  const immutable = live ? immutableChanges(def, live, { ...live, spec }) : { violations: [], unchecked: [] };
  plan.refused = [...immutable.violations, ...schemaErrors(def, spec)];
  if (plan.refused.length) {
    plan.next = { action: 'refused', summary: `the API server refuses this manifest (${plan.refused.map((r) => r.message).join('; ')}); nothing changes.` };
    plan.blocked = plan.needsHuman = true;
    return plan;
  }
  const annotations = { ...(live?.metadata.annotations ?? {}), ...(i.manifest.metadata.annotations ?? {}) };
  const mode = reconcileMode(annotations);
  if ('error' in mode || mode.mode === 'paused') {
    const msg = 'error' in mode ? mode.error : `${Annotations.reconcile}=paused: the operator touches nothing`;
    plan.blockers = [plannedCheck({ type: 'Ready', status: 'False', reason: 'error' in mode ? 'InvalidSpec' : 'Paused', message: msg }, 'plan')];
    plan.next = { action: 'nothing', summary: msg };
    plan.blocked = plan.needsHuman = true;
    return plan;
  }

  const checks: PlannedCheck[] = [];
  const uses = hsmUses(i.kind, spec, i.namespace);
  const refused = new Set<string>();
  for (const u of uses.filter((x) => x.hsm.crossNamespace)) {
    // The operator's own rule (grants.ts): a reference across namespaces reaches nothing without a grant there.
    const message = await grantRefusal(i, name, live, u);
    if (message === undefined) continue;
    refused.add(u.hsm.statusKey);
    checks.push(plannedCheck({ type: 'References', status: 'False', reason: 'NotGranted', message: `${u.hsm.statusKey}: ${message}` }, 'plan'));
  }
  for (const hsm of [...new Set(uses.map((u) => u.hsm.statusKey))].filter((k) => !refused.has(k))) {
    const address = hsmAddressOfStatusKey(i.namespace, hsm);
    const found = await i.client.getIfExists<DedicatedHsm>(resourceTypeOf('DedicatedHsm'), address.namespace, address.name);
    if (!found && i.inChange.has(address.cacheKey)) {
      plan.notes.push(`DedicatedHsm ${hsm} is created by this change; ${i.kind === 'NtlsClientBinding' ? 'the client is registered on it' : 'it joins the group'} once its appliance is reachable.`);
      checks.push(plannedCheck({ type: 'References', status: 'False', reason: 'WaitingForDedicatedHsm', message: `DedicatedHsm ${hsm} does not exist yet (it is in this change).` }, 'plan'));
    } else if (!found) {
      checks.push(plannedCheck({ type: 'References', status: 'False', reason: 'TargetNotFound', message: `DedicatedHsm ${address.cacheKey} exists neither in the cluster nor in this change; nothing happens for it until it does.` }, 'plan'));
    } else {
      const r = found.status?.conditions?.find((c) => c.type === 'Ready');
      if (r?.status !== 'True') checks.push(plannedCheck({ type: 'References', status: 'False', reason: 'WaitingForDedicatedHsm', message: `DedicatedHsm ${hsm} is not Ready (${r ? `${r.reason}: ${r.message}` : 'no status yet'}).` }, 'plan'));
    }
  }
  for (const secret of secretRefs(i.kind, spec)) {
    const s = await i.client.getIfExists(CoreTypes.secrets, i.namespace, secret.name);
    const data = (s as { data?: Record<string, string> } | undefined)?.data ?? {};
    if (!s) checks.push(plannedCheck({ type: 'Secrets', status: 'False', reason: 'SecretNotFound', message: `Secret ${i.namespace}/${secret.name} (${secret.what}) does not exist.` }, 'plan'));
    else if (secret.key && !data[secret.key]) checks.push(plannedCheck({ type: 'Secrets', status: 'False', reason: 'SecretNotFound', message: `Secret ${i.namespace}/${secret.name} (${secret.what}) has no key "${secret.key}".` }, 'plan'));
  }
  // The device side as the operator last read it.
  for (const c of (live?.status?.conditions ?? []) as Condition[]) {
    if (['Ready', 'Reconciling', 'Stalled'].includes(c.type)) continue;
    checks.push(plannedCheck(c, 'operator'));
  }
  plan.checks = checks;
  plan.blockers = checks.filter((c) => c.status !== 'True');
  plan.needsHuman = plan.blockers.some((b) => b.severity === 'needsHuman');
  plan.blocked = plan.blockers.length > 0;
  plan.next = { action: 'not-planned', summary: summary(i.kind, spec, name) };
  plan.notes.push('plan reads no appliance or LunaCM host for this kind: the device side is the operator\'s last reading in status.');
  return plan;
}

interface HsmUse {
  hsm: HsmAddress;
  partitions: string[];
  clientName?: string;
}

/** Every DedicatedHsm the object uses, with the partitions it asks for there. */
function hsmUses(kind: RefKind, spec: unknown, namespace: string): HsmUse[] {
  if (kind === 'NtlsClientBinding') {
    const s = spec as NtlsClientBinding['spec'];
    return s.targets.map((t) => ({ hsm: hsmAddress(namespace, t.dedicatedHsmRef), partitions: t.partitions, clientName: s.clientName }));
  }
  return (spec as HsmHaGroup['spec']).members.map((m) => ({ hsm: hsmAddress(namespace, m.dedicatedHsmRef), partitions: m.partitionLabel ? [m.partitionLabel] : [] }));
}

/**
 * Why the grants of the HSM's namespace refuse this use (decideGrant, as the controllers decide), or undefined. Reads
 * the grants, the namespace's labels and, for the client count, the other bindings; what plan may not read is said.
 */
async function grantRefusal(i: RefPlanInput, name: string, existing: Obj | undefined, u: HsmUse): Promise<string | undefined> {
  if (i.kind === 'HsmHaGroup' && u.partitions.length === 0) return labelRequired(u.hsm);
  const changed = (i.grantsInChange ?? []).filter((g) => g.metadata.namespace === u.hsm.namespace);
  const live = (await i.client.list<HsmGrant>(ResourceTypes.grants, { namespace: u.hsm.namespace })).items;
  const grants = [...live.filter((g) => !changed.some((c) => c.metadata.name === g.metadata.name)), ...changed.map((g) => ({ ...g, spec: withDefaults(HsmGrantDefinition, g.spec) as HsmGrant['spec'] }))];
  const ns = await i.client.getIfExists<KubeObject>(CoreTypes.namespaces, undefined, i.namespace).catch(() => undefined);
  const labelsOf = (n: string) => (n === i.namespace ? ns?.metadata?.labels : undefined);
  const req: GrantRequest = {
    kind: i.kind,
    namespace: i.namespace,
    uid: existing?.metadata.uid ?? `planned:${i.namespace}/${name}`,
    // A new object is the newest: every existing one is ahead of it in the count.
    createdAt: String(existing?.metadata.creationTimestamp ?? '9999-12-31T23:59:59Z'),
    hsm: u.hsm,
    partitions: u.partitions,
    ...(u.clientName !== undefined ? { clientName: u.clientName } : {}),
  };
  // The client count, as the controller counts it; bindings plan may not list are not counted.
  const all = i.kind === 'NtlsClientBinding' ? await i.client.list<NtlsClientBinding>(resourceTypeOf('NtlsClientBinding'), {}).catch(() => undefined) : undefined;
  const others = requestsFor(all?.items ?? [], u.hsm, req.uid);
  const d = decideGrant(req, grants, labelsOf, others);
  return d.granted ? undefined : d.message;
}

function secretRefs(kind: RefKind, spec: unknown): { name: string; key?: string; what: string }[] {
  if (kind === 'NtlsClientBinding') {
    const s = spec as NtlsClientBinding['spec'];
    return s.certificate.secretRef ? [{ name: s.certificate.secretRef.name, key: 'tls.crt', what: 'client certificate' }] : [];
  }
  const s = spec as HsmHaGroup['spec'];
  return [
    { name: s.client.credentialsRef.name, key: s.client.credentialsRef.key, what: 'LunaCM host SSH password' },
    { name: s.passwordSecretRef.name, key: s.passwordSecretRef.key, what: 'HA group password' },
  ];
}

function summary(kind: RefKind, spec: unknown, name: string): string {
  if (kind === 'NtlsClientBinding') {
    const s = spec as NtlsClientBinding['spec'];
    const id = s.identity.hostname ?? s.identity.ip ?? '';
    return `keep client ${s.clientName} (${id}) registered on ${s.targets.map((t) => `${t.dedicatedHsmRef.name} with partitions ${t.partitions.join(', ')}`).join('; ')}, and its output Secret ${s.outputSecretName ?? `${name}-ntls`} current.`;
  }
  const s = spec as HsmHaGroup['spec'];
  return `keep HA group ${s.label} with members ${s.members.map((m) => `${m.dedicatedHsmRef.name}/${m.partitionSerial ?? m.partitionLabel ?? ''}`).join(', ')} through LunaCM on ${s.client.host}.`;
}
