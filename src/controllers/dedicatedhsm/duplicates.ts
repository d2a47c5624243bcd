/**
 * One DedicatedHsm per Azure HSM, cluster-wide: when two objects (in any namespaces) name the same subscription,
 * resource group and ARM name, the one already managing it (its status records that resource) keeps it; else the
 * older one (creationTimestamp, then uid) manages it. The other does nothing in Azure (DuplicateResource), and is looked at again when the older one is gone (the watch in index.ts). Objects the
 * tenancy policy keeps out of Azure do not count, so a namespace cannot hold back an HSM it may not touch. Pure but
 * for the claimants, which come from the operator's DedicatedHsm cache (an index on the ARM resource ID).
 */
import type { DedicatedHsm } from '../../api/index.js';
import { hsmId } from '../../azure/index.js';
import type { TenancyPolicy } from '../shared/tenancy-policy.js';
import { armName } from './desired.js';
import type { Pass } from './pass.js';
import { scopeOf } from './scope.js';

/** The cache index of DedicatedHsms by the ARM resource ID they name. */
export const BY_ARM_ID = 'armResourceId';

/** The ARM resource ID an object names, as ARM compares IDs (without regard to case). */
export function armIdKey(hsm: DedicatedHsm): string {
  const a = hsm.spec.azure;
  return hsmId(a.subscriptionId, a.resourceGroup, armName(hsm)).toLowerCase();
}

/** Index values for BY_ARM_ID. */
export function armIdIndex(hsm: DedicatedHsm): string[] {
  return hsm.spec?.azure ? [armIdKey(hsm)] : [];
}

/** Whether the object already manages the Azure HSM it names (created or adopted it: status.resourceId). */
function manages(h: DedicatedHsm): boolean {
  const id = h.status?.resourceId;
  return id !== undefined && id.toLowerCase() === armIdKey(h);
}

/**
 * Which of two claimants comes first: the one already managing the resource (a newer object, or one created in the
 * same second that wins the uid tie-break, never displaces it), then the older (creationTimestamp, then uid).
 */
function older(a: DedicatedHsm, b: DedicatedHsm): boolean {
  const ma = manages(a);
  if (ma !== manages(b)) return ma;
  const ta = created(a);
  const tb = created(b);
  if (ta !== tb) return ta < tb;
  return (a.metadata.uid ?? '') < (b.metadata.uid ?? '');
}

/** creationTimestamp in ms (the API server sets it on every object; 0 where absent). */
function created(h: DedicatedHsm): number {
  const t = h.metadata.creationTimestamp;
  const ms = t === undefined ? NaN : new Date(t).getTime();
  return Number.isNaN(ms) ? 0 : ms;
}

/** The object that manages the Azure HSM `hsm` names, when it is another one; undefined when `hsm` does. */
export function ownerOfResource(hsm: DedicatedHsm, claimants: readonly DedicatedHsm[], policy: TenancyPolicy | undefined): DedicatedHsm | undefined {
  // An object the policy refuses reports that refusal (NotPermitted), not who else claims the name: its own problem
  // comes first, whatever the creation order (a same-second tie used to decide it).
  if (!scopeOf(policy, hsm).permitted) return undefined;
  const key = armIdKey(hsm);
  let owner: DedicatedHsm | undefined;
  for (const c of claimants) {
    if (c.metadata.uid === hsm.metadata.uid || armIdKey(c) !== key) continue;
    if (!scopeOf(policy, c).permitted) continue;
    if (older(c, hsm) && (!owner || older(c, owner))) owner = c;
  }
  return owner;
}

/** A duplicate's report: what it is and what to do, never the other object's name when it is in another namespace. */
export function reportDuplicate(hsm: DedicatedHsm, owner: DedicatedHsm, pass: Pass): void {
  const a = hsm.spec.azure;
  const name = armName(hsm);
  const which =
    owner.metadata.namespace === hsm.metadata.namespace ? `DedicatedHsm ${owner.metadata.name ?? ''} in this namespace, which is older,` : 'An older DedicatedHsm in another namespace';
  const message = `${which} already manages Azure HSM ${name} in resource group ${a.resourceGroup} of subscription ${a.subscriptionId}: this one does nothing in Azure while that one exists. Delete this object, or give it another spec.azure.name.`;
  pass.condition({ type: 'Provisioned', status: 'Unknown', reason: 'DuplicateResource', message });
  pass.override = { reason: 'DuplicateResource', severity: 'needsHuman', message };
  const prev = hsm.status?.conditions?.find((c) => c.type === 'Provisioned');
  if (prev?.reason !== 'DuplicateResource') pass.event('Warning', 'DuplicateResource', message);
}
