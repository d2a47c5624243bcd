/**
 * The group's shape: which declared members are known (partition serial resolved), and what LunaCM must do to make
 * the group hold exactly them: `creategroup` with the first member, `addmember` for the others, `removemember` for
 * members nobody declared. Pure.
 *
 * Two rules keep this safe: a member is removed only when every declared member is resolved (a label that cannot be
 * resolved right now, say because its appliance is down, must not make its partition look undeclared), and adds come
 * before removes (the documented cloning-domain fix: add the new partition, then remove the wrong one).
 */
import type { HaGroupInfo } from '../../luna/index.js';

/** Why a declared member cannot be placed in the group right now. */
export interface MemberProblem {
  reason: 'TargetNotFound' | 'WaitingForDedicatedHsm' | 'PartitionNotFound' | 'NotGranted';
  message: string;
}

export interface DeclaredMember {
  /** Position in spec.members (0 is the primary). */
  index: number;
  /** The DedicatedHsm holding the partition: its name, or namespace/name in another namespace (as status lists it). */
  hsm: string;
  /** The partition serial: declared, or resolved from the declared label. */
  serial?: string;
  /** The partition label, when declared or known. */
  label?: string;
  /** Set when the member cannot be used now (HSM missing, label unresolved, partition missing). */
  problem?: MemberProblem;
}

export type ShapeAction = { kind: 'create'; serial: string; member: DeclaredMember } | { kind: 'add'; serial: string; member: DeclaredMember } | { kind: 'remove'; serial: string };

/** A declared member that stays out of the group this pass, and why. */
export interface WaitingMember {
  member: DeclaredMember;
  problem: MemberProblem;
}

export interface ShapePlan {
  actions: ShapeAction[];
  waiting: WaitingMember[];
  /** Members in the group nobody declared, kept because some declared member is not resolved yet. */
  removalsHeld: string[];
}

/** How a DedicatedHsm's appliance looked when it was checked: undefined when not checked. */
export type Reachability = ReadonlyMap<string, { reachable: boolean; message?: string }>;

/** Declared members with a serial, first occurrence of a serial only (two labels may name one partition). */
export function knownMembers(declared: readonly DeclaredMember[]): DeclaredMember[] {
  const seen = new Set<string>();
  return declared.filter((m) => {
    if (m.serial === undefined || seen.has(m.serial)) return false;
    seen.add(m.serial);
    return true;
  });
}

/** The DedicatedHsms whose reachability the shape plan needs: those of members that would be created or added. */
export function shapeNeedsReachability(declared: readonly DeclaredMember[], group: HaGroupInfo | undefined): string[] {
  const inGroup = new Set(group?.memberSerials ?? []);
  const primary = declared[0];
  const candidates = group ? knownMembers(declared).filter((m) => m.serial !== undefined && !inGroup.has(m.serial)) : primary?.serial !== undefined ? knownMembers(declared) : [];
  return [...new Set(candidates.filter((m) => !m.problem).map((m) => m.hsm))];
}

function unreachable(m: DeclaredMember, reach: Reachability): MemberProblem | undefined {
  if (m.problem) return m.problem;
  const r = reach.get(m.hsm);
  if (r && !r.reachable) {
    return { reason: 'WaitingForDedicatedHsm', message: `the appliance of DedicatedHsm ${m.hsm} is unreachable${r.message ? ` (${r.message})` : ''}` };
  }
  return undefined;
}

export function planShape(declared: readonly DeclaredMember[], group: HaGroupInfo | undefined, reach: Reachability): ShapePlan {
  const actions: ShapeAction[] = [];
  const waiting: WaitingMember[] = [];
  const known = knownMembers(declared);
  let inGroup: Set<string>;

  if (!group) {
    const primary = declared[0];
    if (!primary) return { actions, waiting, removalsHeld: [] };
    const problem = primary.serial === undefined ? (primary.problem ?? { reason: 'WaitingForDedicatedHsm', message: 'partition not resolved yet' }) : unreachable(primary, reach);
    if (problem || primary.serial === undefined) {
      // The group number is "1" + the primary's serial: the group waits for its first member rather than starting
      // with another one.
      for (const m of declared) waiting.push({ member: m, problem: m === primary && problem ? problem : (m.problem ?? { reason: 'WaitingForDedicatedHsm', message: `waiting for the primary member (DedicatedHsm ${primary.hsm}) before the group can be created` }) });
      return { actions, waiting, removalsHeld: [] };
    }
    actions.push({ kind: 'create', serial: primary.serial, member: primary });
    inGroup = new Set([primary.serial]);
  } else {
    inGroup = new Set(group.memberSerials);
  }

  for (const m of declared) {
    if (m.serial !== undefined && inGroup.has(m.serial)) continue;
    if (m.serial === undefined || !known.includes(m)) {
      if (m.serial === undefined) waiting.push({ member: m, problem: m.problem ?? { reason: 'WaitingForDedicatedHsm', message: 'partition not resolved yet' } });
      continue;
    }
    const problem = unreachable(m, reach);
    if (problem) {
      waiting.push({ member: m, problem });
      continue;
    }
    actions.push({ kind: 'add', serial: m.serial, member: m });
    inGroup.add(m.serial);
  }

  const declaredSerials = new Set(known.map((m) => m.serial));
  const undeclared = (group?.memberSerials ?? []).filter((s) => !declaredSerials.has(s));
  const allResolved = declared.every((m) => m.serial !== undefined);
  if (!allResolved) return { actions, waiting, removalsHeld: undeclared };
  for (const serial of undeclared) actions.push({ kind: 'remove', serial });
  return { actions, waiting, removalsHeld: [] };
}

/** Whether a plan needs the group password (creategroup and addmember log in to the partition). */
export function needsPassword(actions: readonly ShapeAction[]): boolean {
  return actions.some((a) => a.kind !== 'remove');
}
