/**
 * Declared members -> partitions: each member's DedicatedHsm from the cache, and its partition serial (declared, or
 * looked up by label with `partition list` on the appliance). Label lookups are remembered per DedicatedHsm uid, so a
 * steady group costs no appliance command; a failed lookup falls back to what the last status recorded.
 */
import type { DedicatedHsm, HsmHaGroup } from '../../api/index.js';
import { DeviceAbortedError } from '../../luna/index.js';
import { grantFor, hsmAddress, labelRequired, type GrantRequest, type HsmAddress } from '../shared/grants.js';
import { applianceAccess, describeDeviceError, withAppliance, type OperatorContext, type SecretReads } from '../shared/index.js';
import type { MemberStatus } from './health.js';
import type { DeclaredMember } from './members.js';

/** Partition serials by `<DedicatedHsm uid>/<label>`. */
export type LabelCache = Map<string, string>;

export async function resolveMembers(
  ctx: OperatorContext,
  group: HsmHaGroup,
  secrets: SecretReads,
  labels: LabelCache,
  signal?: AbortSignal,
): Promise<{ declared: DeclaredMember[]; hsms: Map<string, DedicatedHsm | undefined> }> {
  const namespace = group.metadata.namespace ?? 'default';
  const hsms = new Map<string, DedicatedHsm | undefined>();
  const previous: readonly MemberStatus[] = group.status?.members ?? [];
  const declared: DeclaredMember[] = [];
  for (const [index, m] of group.spec.members.entries()) {
    const addr = hsmAddress(namespace, m.dedicatedHsmRef);
    const name = addr.statusKey;
    const member: DeclaredMember = { index, hsm: name, ...(m.partitionLabel ? { label: m.partitionLabel } : {}) };
    // Across namespaces: nothing is looked up (not even whether the HSM exists) before a grant admits the partition.
    const refused = memberRefused(ctx, group, addr, m);
    if (refused) {
      member.problem = { reason: 'NotGranted', message: refused };
      declared.push(member);
      continue;
    }
    if (!hsms.has(name)) hsms.set(name, ctx.caches.dedicatedHsms.get(addr.cacheKey));
    const hsm = hsms.get(name);
    if (!hsm) member.problem = { reason: 'TargetNotFound', message: `DedicatedHsm ${addr.cacheKey} does not exist` };
    if (m.partitionSerial) {
      member.serial = m.partitionSerial;
    } else if (m.partitionLabel && hsm) {
      const visible = (label: string): boolean => !addr.crossNamespace || grantFor(ctx, haRequest(group, addr, label), []).granted;
      const found = await serialForLabel(ctx, hsm, name, m.partitionLabel, secrets, labels, visible, signal);
      if ('serial' in found) member.serial = found.serial;
      else {
        const recorded = previous.find((p) => p.dedicatedHsm === name && p.label === m.partitionLabel && p.serial);
        if (recorded?.serial && found.problem.reason !== 'PartitionNotFound') member.serial = recorded.serial;
        member.problem = found.problem;
      }
    }
    declared.push(member);
  }
  return { declared, hsms };
}

/** Why a member across namespaces is not admitted, or undefined (same namespace, or granted). */
function memberRefused(ctx: OperatorContext, group: HsmHaGroup, addr: HsmAddress, m: HsmHaGroup['spec']['members'][number]): string | undefined {
  if (!addr.crossNamespace) return undefined;
  if (!m.partitionLabel) {
    return labelRequired(addr);
  }
  const d = grantFor(ctx, haRequest(group, addr, m.partitionLabel), []);
  return d.granted ? undefined : d.message;
}

/** What an HA group asks of one HSM for one partition, as the grants judge it (no client count: no client is registered). */
function haRequest(group: HsmHaGroup, hsm: HsmAddress, label: string): GrantRequest {
  return { kind: 'HsmHaGroup', namespace: group.metadata.namespace ?? '', uid: group.metadata.uid ?? '', createdAt: String(group.metadata.creationTimestamp ?? ''), hsm, partitions: [label] };
}

async function serialForLabel(
  ctx: OperatorContext,
  hsm: DedicatedHsm,
  name: string,
  label: string,
  secrets: SecretReads,
  labels: LabelCache,
  visible: (label: string) => boolean,
  signal: AbortSignal | undefined,
): Promise<{ serial: string } | { problem: NonNullable<DeclaredMember['problem']> }> {
  const key = `${hsm.metadata.uid ?? hsm.metadata.name ?? ''}/${label}`;
  const cached = labels.get(key);
  if (cached) return { serial: cached };
  const access = await applianceAccess(ctx, hsm, secrets, signal);
  if (!access.ok) return { problem: { reason: 'WaitingForDedicatedHsm', message: `partition ${label} cannot be looked up yet: ${access.message}` } };
  try {
    const partitions = await withAppliance(ctx, hsm, access, (a) => a.partitions());
    for (const p of partitions) labels.set(`${hsm.metadata.uid ?? hsm.metadata.name ?? ''}/${p.label}`, p.serial);
    const found = partitions.find((p) => p.label === label);
    if (found) return { serial: found.serial };
    // A tenant under a grant hears only of the partitions granted to it.
    const have = partitions.map((p) => p.label).filter(visible).join(', ') || 'none';
    return { problem: { reason: 'PartitionNotFound', message: `DedicatedHsm ${name} has no partition labelled ${label} (partitions: ${have}); create it or fix spec.members` } };
  } catch (e) {
    // An aborted pass ends here: its outcome is not a fact about the appliance.
    if (e instanceof DeviceAbortedError) throw e;
    return { problem: { reason: 'WaitingForDedicatedHsm', message: `partition ${label} cannot be looked up: ${describeDeviceError(e, `appliance of DedicatedHsm ${name}`).message}` } };
  }
}
