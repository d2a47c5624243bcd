/**
 * What a DedicatedHsm asks of Azure, derived from its spec: the ARM name, the HSM to create, the tags to keep
 * (the spec's, plus the ownership tags of ownership.ts, which the spec cannot override). Pure.
 */
import type { DedicatedHsm } from '../../api/index.js';
import { parseArmId, type HsmSpec } from '../../azure/index.js';
import { ownerTags, withoutOwnerTags } from './ownership.js';

/** The ARM resource name: spec.azure.name, else metadata.name. */
export function armName(hsm: DedicatedHsm): string {
  return hsm.spec.azure.name ?? hsm.metadata.name ?? '';
}

export function desiredHsm(hsm: DedicatedHsm): HsmSpec {
  const a = hsm.spec.azure;
  const spec: HsmSpec = {
    subscriptionId: a.subscriptionId,
    resourceGroup: a.resourceGroup,
    name: armName(hsm),
    location: a.location,
    sku: a.sku,
    subnetId: a.subnetId,
  };
  if (a.stampId) spec.stampId = a.stampId;
  if (a.zones?.length) spec.zones = [...a.zones];
  if (a.privateIpAddress) spec.privateIpAddress = a.privateIpAddress;
  spec.tags = { ...withoutOwnerTags(a.tags ?? {}), ...ownerTags(hsm) };
  return spec;
}

/** The stamp key quota counts this HSM under (see azure/quota.ts stampKey). */
export function quotaStampKey(hsm: DedicatedHsm): string | undefined {
  const a = hsm.spec.azure;
  if (a.stampId) return a.stampId;
  if (a.zones?.length) return `zone-${[...a.zones].sort().join(',')}`;
  return undefined;
}

/**
 * Tags to write when they differ from what Azure holds; undefined when nothing is to be done. The ownership tags are
 * always there; a spec without tags leaves Azure's other tags alone (someone else may manage them).
 */
export function tagsToWrite(hsm: DedicatedHsm, actual: Record<string, string>): Record<string, string> | undefined {
  const spec = hsm.spec.azure.tags;
  const wanted = { ...withoutOwnerTags(spec ?? actual), ...ownerTags(hsm) };
  const a = Object.keys(wanted).sort();
  const b = Object.keys(actual).sort();
  const same = a.length === b.length && a.every((k, i) => k === b[i] && wanted[k] === actual[k]);
  return same ? undefined : { ...wanted };
}

/** The last segment of an ARM ID, for messages (`hsm-ergw` rather than the whole path). */
export function shortName(id: string | undefined): string {
  if (!id) return '';
  try {
    return parseArmId(id).name;
  } catch {
    return id;
  }
}
