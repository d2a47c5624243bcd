/**
 * What `hagroup listgroups` says about the group, in status terms: members with their state and recovery counters,
 * and the cloning-domain conflicts LunaCM warns about, named by member. Pure.
 */
import type { HsmHaGroupStatus } from '../../api/index.js';
import type { HaGroupInfo, HaGroupList } from '../../luna/index.js';
import type { DeclaredMember } from './members.js';

export type MemberStatus = NonNullable<HsmHaGroupStatus['members']>[number];

/** States in which a member serves requests. */
const SERVING = new Set(['alive', 'standby']);

export function isServing(state: string | undefined): boolean {
  return state !== undefined && SERVING.has(state);
}

export function findGroup(list: HaGroupList, label: string): HaGroupInfo | undefined {
  return list.groups.find((g) => g.label === label);
}

/** State of one serial as LunaCM lists it: the member table, else standby, else unknown (not in the group). */
function stateOf(group: HaGroupInfo | undefined, serial: string): { state: string; label?: string } {
  const row = group?.members.find((m) => m.serial === serial);
  if (row) return { state: group?.standbyMembers.includes(serial) && row.status === 'alive' ? 'standby' : row.status, ...(row.label ? { label: row.label } : {}) };
  if (group?.standbyMembers.includes(serial)) return { state: 'standby' };
  return { state: 'unknown' };
}

function counters(prev: MemberStatus | undefined): Pick<MemberStatus, 'lastRecoveryAt' | 'recoveries' | 'failedRecoveries'> {
  if (!prev) return {};
  return {
    ...(prev.lastRecoveryAt !== undefined ? { lastRecoveryAt: prev.lastRecoveryAt } : {}),
    ...(prev.recoveries !== undefined ? { recoveries: prev.recoveries } : {}),
    ...(prev.failedRecoveries !== undefined ? { failedRecoveries: prev.failedRecoveries } : {}),
  };
}

/**
 * Status members: the declared ones in spec order (unresolved ones too, state unknown), then members LunaCM lists that
 * nobody declared (until they are removed). Recovery counters carry over by serial.
 */
export function memberStatuses(declared: readonly DeclaredMember[], group: HaGroupInfo | undefined, previous: readonly MemberStatus[] | undefined): MemberStatus[] {
  const prev = previous ?? [];
  const out: MemberStatus[] = [];
  const listed = new Set<string>();
  for (const m of declared) {
    if (m.serial !== undefined) {
      if (listed.has(m.serial)) continue;
      listed.add(m.serial);
      const before = prev.find((p) => p.serial === m.serial);
      const { state, label } = stateOf(group, m.serial);
      const name = label ?? m.label ?? before?.label;
      out.push({ serial: m.serial, ...(name ? { label: name } : {}), dedicatedHsm: m.hsm, state, ...counters(before) });
    } else {
      const before = prev.find((p) => p.dedicatedHsm === m.hsm && p.label !== undefined && p.label === m.label);
      out.push({ ...(m.label ? { label: m.label } : {}), dedicatedHsm: m.hsm, state: 'unknown', ...counters(before) });
    }
  }
  for (const serial of group?.memberSerials ?? []) {
    if (listed.has(serial)) continue;
    listed.add(serial);
    const before = prev.find((p) => p.serial === serial);
    const { state, label } = stateOf(group, serial);
    const name = label ?? before?.label;
    out.push({ serial, ...(name ? { label: name } : {}), state, ...counters(before) });
  }
  return out.slice(0, 16);
}

export interface CloningConflict {
  slotA: number;
  slotB: number;
  serialA?: string;
  serialB?: string;
}

const WARNING = /Synchronize may fail\.\s+The members in slot (\d+) and slot (\d+) have conflicting settings for private key cloning/gi;

/** Slot pairs from `Warning:` lines of a LunaCM command (addmember and synchronize print the same warning). */
export function conflictsInWarnings(warnings: readonly string[]): { slotA: number; slotB: number }[] {
  return warnings.flatMap((w) => [...w.matchAll(WARNING)].map((m) => ({ slotA: Number(m[1]), slotB: Number(m[2]) })));
}

/**
 * Conflicts a command printed, named by serial through the member layout the command worked on (its slots count
 * from 0 in that layout, which later commands may change).
 */
export function conflictsFromOutput(warnings: readonly string[], layout: readonly string[]): CloningConflict[] {
  return conflictsInWarnings(warnings).map((p) => {
    const a = layout[p.slotA];
    const b = layout[p.slotB];
    return { ...p, ...(a ? { serialA: a } : {}), ...(b ? { serialB: b } : {}) };
  });
}

/**
 * Every conflict known for the group, slots as in the current member table: those the listing shows, plus those
 * seen earlier (command output) while both of their members are still in the group.
 */
export function cloningConflicts(list: HaGroupList, group: HaGroupInfo | undefined, seen: readonly CloningConflict[]): CloningConflict[] {
  if (!group) return [];
  const serialAt = (slot: number): string | undefined => group.members[slot]?.serial;
  // A warning outside any group block can only be about this group when it is the only one.
  const loose = list.groups.length === 1 ? list.cloningConflicts : [];
  const listed: CloningConflict[] = [...group.cloningConflicts, ...loose].map((p) => {
    const a = serialAt(p.slotA);
    const b = serialAt(p.slotB);
    return { slotA: p.slotA, slotB: p.slotB, ...(a ? { serialA: a } : {}), ...(b ? { serialB: b } : {}) };
  });
  const slotOf = (serial: string | undefined): number => (serial === undefined ? -1 : group.members.findIndex((m) => m.serial === serial));
  const carried: CloningConflict[] = seen.flatMap((c) => {
    const slotA = slotOf(c.serialA);
    const slotB = slotOf(c.serialB);
    return slotA >= 0 && slotB >= 0 ? [{ ...c, slotA, slotB }] : [];
  });
  const out: CloningConflict[] = [];
  const keys = new Set<string>();
  for (const c of [...listed, ...carried]) {
    const k = c.serialA && c.serialB ? [c.serialA, c.serialB].sort().join('/') : `${c.slotA}/${c.slotB}`;
    if (keys.has(k)) continue;
    keys.add(k);
    out.push(c);
  }
  return out.sort((x, y) => x.slotA - y.slotA || x.slotB - y.slotB);
}

/** "serial S (par0 on DedicatedHsm hsm1)" from what is known about a serial. */
export function describeMember(serial: string | undefined, members: readonly MemberStatus[]): string {
  if (serial === undefined) return 'an unknown member';
  const m = members.find((x) => x.serial === serial);
  const where = [m?.label ? `partition ${m.label}` : undefined, m?.dedicatedHsm ? `on DedicatedHsm ${m.dedicatedHsm}` : 'not declared in spec.members'].filter(Boolean).join(' ');
  return `${serial} (${where})`;
}
