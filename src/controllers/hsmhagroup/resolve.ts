/**
 * Declared members -> partitions: each member's DedicatedHsm from the cache, and its partition serial (declared, or
 * looked up by label with `partition list` on the appliance). Label lookups are remembered per DedicatedHsm uid, so a
 * steady group costs no appliance command; a failed lookup falls back to what the last status recorded.
 */
import type { DedicatedHsm, HsmHaGroup } from '../../api/index.js';
import { DeviceAbortedError } from '../../luna/index.js';
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
    const name = m.dedicatedHsmRef.name;
    if (!hsms.has(name)) hsms.set(name, ctx.caches.dedicatedHsms.get(`${namespace}/${name}`));
    const hsm = hsms.get(name);
    const member: DeclaredMember = { index, hsm: name, ...(m.partitionLabel ? { label: m.partitionLabel } : {}) };
    if (!hsm) member.problem = { reason: 'TargetNotFound', message: `DedicatedHsm ${namespace}/${name} does not exist` };
    if (m.partitionSerial) {
      member.serial = m.partitionSerial;
    } else if (m.partitionLabel && hsm) {
      const found = await serialForLabel(ctx, hsm, m.partitionLabel, secrets, labels, signal);
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

async function serialForLabel(
  ctx: OperatorContext,
  hsm: DedicatedHsm,
  label: string,
  secrets: SecretReads,
  labels: LabelCache,
  signal: AbortSignal | undefined,
): Promise<{ serial: string } | { problem: NonNullable<DeclaredMember['problem']> }> {
  const key = `${hsm.metadata.uid ?? hsm.metadata.name ?? ''}/${label}`;
  const cached = labels.get(key);
  if (cached) return { serial: cached };
  const name = hsm.metadata.name ?? '';
  const access = await applianceAccess(ctx, hsm, secrets, signal);
  if (!access.ok) return { problem: { reason: 'WaitingForDedicatedHsm', message: `partition ${label} cannot be looked up yet: ${access.message}` } };
  try {
    const partitions = await withAppliance(ctx, hsm, access, (a) => a.partitions());
    for (const p of partitions) labels.set(`${hsm.metadata.uid ?? name}/${p.label}`, p.serial);
    const found = partitions.find((p) => p.label === label);
    if (found) return { serial: found.serial };
    const have = partitions.map((p) => p.label).join(', ') || 'none';
    return { problem: { reason: 'PartitionNotFound', message: `DedicatedHsm ${name} has no partition labelled ${label} (partitions: ${have}); create it or fix spec.members` } };
  } catch (e) {
    // An aborted pass ends here: its outcome is not a fact about the appliance.
    if (e instanceof DeviceAbortedError) throw e;
    return { problem: { reason: 'WaitingForDedicatedHsm', message: `partition ${label} cannot be looked up: ${describeDeviceError(e, `appliance of DedicatedHsm ${name}`).message}` } };
  }
}
