/**
 * The HsmHaGroup conditions from what one pass observed and did: MembersHealthy, CloningDomainConsistent and
 * AutoRecoveryConfigured. Pure. Messages name members and say what happens next or what a human must do; they
 * carry no timestamps or counters that change every pass, so an unchanged group costs no status write.
 */
import type { ConditionLike } from '../../api/index.js';
import type { HaGroupInfo, HaRecoverySettings } from '../../luna/index.js';
import { describeMember, isServing, type CloningConflict, type MemberStatus } from './health.js';
import type { ShapeAction, WaitingMember } from './members.js';
import type { BreakerState } from './recovery.js';
import type { SecretReason } from '../shared/secrets.js';
import { autoRecoveryMatches, describeRetries, type DesiredSettings } from './settings.js';

/** A failure that stops the whole pass: the client host could not be used. */
export interface ClientProblem {
  reason: SecretReason | 'ClientHostUnreachable' | 'CredentialRejected' | 'HostKeyMismatch';
  message: string;
}

/** A failure of the group's shape commands (creategroup/addmember/removemember). */
export interface ShapeProblem {
  reason: 'CredentialRejected' | SecretReason | 'ConfiguringGroup';
  message: string;
}

export interface DownMember {
  serial: string;
  /** Whether the member's appliance answered; undefined when it was not checked. */
  applianceReachable?: boolean;
  reachMessage?: string;
}

export interface Observation {
  mode: 'manage' | 'observe';
  label: string;
  clientHost: string;
  clientProblem?: ClientProblem;
  /** The group as last listed (undefined: it does not exist, or the listing failed). */
  group?: HaGroupInfo;
  /** Client-wide settings as last listed. */
  settings?: HaRecoverySettings;
  members: MemberStatus[];
  waiting: WaitingMember[];
  /** Shape commands still to run (observe mode, or not reached after a failure). */
  pending: ShapeAction[];
  shapeProblem?: ShapeProblem;
  down: DownMember[];
  breaker: BreakerState;
  operatorRecovery: boolean;
  window: string;
  desired: DesiredSettings;
  /** Other groups on the same client host asking for different client-wide settings. */
  settingsConflicts: string[];
  settingsUnreadable: string[];
  synchronizeHeld?: string;
  cloning: CloningConflict[];
}

const OBSERVE_NOTE = ' (observe mode: the operator changes nothing)';

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join('; ')}; and ${items[items.length - 1]}`;
}

function pendingText(a: ShapeAction, members: readonly MemberStatus[]): string {
  switch (a.kind) {
    case 'create':
      return `the group does not exist yet (hagroup creategroup with ${describeMember(a.serial, members)})`;
    case 'add':
      return `member ${describeMember(a.serial, members)} is not in the group yet`;
    case 'remove':
      return `member ${a.serial} is in the group but not declared in spec.members`;
  }
}

export function membersHealthy(o: Observation): ConditionLike {
  const type = 'MembersHealthy';
  if (o.clientProblem) return { type, status: 'False', ...o.clientProblem };
  const note = o.mode === 'observe' ? OBSERVE_NOTE : '';
  if (o.shapeProblem) return { type, status: 'False', ...o.shapeProblem };
  if (!o.group) {
    const first = o.waiting[0];
    if (first) return { type, status: 'False', reason: first.problem.reason, message: `HA group ${o.label} is not created yet: the primary member (DedicatedHsm ${first.member.hsm}): ${withStop(first.problem.message)}` };
    return { type, status: 'False', reason: 'ConfiguringGroup', message: `HA group ${o.label} does not exist on the client host ${o.clientHost}${note}.` };
  }

  const notServing = o.members.filter((m) => m.serial !== undefined && m.state !== 'unknown' && !isServing(m.state));
  if (notServing.length) {
    const down = new Map(o.down.map((d) => [d.serial, d]));
    const reachable = notServing.filter((m) => down.get(m.serial ?? '')?.applianceReachable === true);
    if (o.breaker.open && reachable.length) {
      return {
        type,
        status: 'False',
        reason: 'RecoveryCircuitOpen',
        message:
          `${list(reachable.map((m) => `member ${describeMember(m.serial, o.members)} is ${m.state}`))}: ${o.breaker.failures} hagroup recover attempts failed within ${o.window}, so the operator stopped recovering. ` +
          `Investigate the member (partition, NTLS, client registration), then set the dedicatedhsm.io/recover-now annotation to a new value (hsm-operator request recover) to try once more; automatic attempts resume when the failures leave the ${o.window} window.`,
      };
    }
    const why = (m: MemberStatus): string => {
      const d = down.get(m.serial ?? '');
      const base = `member ${describeMember(m.serial, o.members)} is ${m.state}`;
      if (d?.applianceReachable === false) return `${base}: its appliance is unreachable${d.reachMessage ? ` (${d.reachMessage})` : ''}, so it is not recovered until the appliance answers again`;
      if (o.mode === 'observe') return `${base}${note}`;
      if (!o.operatorRecovery) {
        return `${base}: operator recovery is off (spec.recovery.operatorRecovery); auto recovery (retry count ${describeRetries(o.desired.retries)}) or hagroup recover -group ${o.label} on the client host brings it back`;
      }
      return `${base}: hagroup recover runs within the rate limit (one attempt per poll interval)`;
    };
    return { type, status: 'False', reason: 'MemberDown', message: `${list(notServing.map(why))}.` };
  }

  if (o.waiting.length) {
    const first = o.waiting[0];
    return {
      type,
      status: 'False',
      reason: first?.problem.reason ?? 'ConfiguringGroup',
      message: `${list(o.waiting.map((w) => `member on DedicatedHsm ${w.member.hsm}${w.member.label ? ` (partition ${w.member.label})` : w.member.serial ? ` (serial ${w.member.serial})` : ''} is not in the group: ${w.problem.message}`))}.`,
    };
  }
  if (o.pending.length) {
    return { type, status: 'False', reason: 'ConfiguringGroup', message: `${list(o.pending.map((a) => pendingText(a, o.members)))}${note}.` };
  }
  const serving = o.members.filter((m) => isServing(m.state)).length;
  return { type, status: 'True', reason: 'Healthy', message: `All ${serving} members of HA group ${o.label} are alive.` };
}

export function cloningDomainConsistent(o: Observation): ConditionLike | undefined {
  const type = 'CloningDomainConsistent';
  // Without a listing there is nothing new to say: the previous condition stands.
  if (o.clientProblem || !o.group) return undefined;
  if (!o.cloning.length) return { type, status: 'True', reason: 'Consistent', message: `No member of HA group ${o.label} has conflicting private key cloning settings.` };
  const pairs = o.cloning.map((c) => `slot ${c.slotA} (member ${describeMember(c.serialA, o.members)}) and slot ${c.slotB} (member ${describeMember(c.serialB, o.members)})`);
  return {
    type,
    status: 'False',
    reason: 'CloningDomainMismatch',
    message:
      `LunaCM warns that synchronize may fail: the members in ${list(pairs)} have conflicting settings for private key cloning (different cloning domains). ` +
      'Fix: create a partition with the right cloning domain, add it to the group (add it to spec.members), then remove the incorrectly configured partition (remove it from spec.members). ' +
      'The operator does not run synchronize while the conflict stands.',
  };
}

export function autoRecoveryConfigured(o: Observation): ConditionLike {
  const type = 'AutoRecoveryConfigured';
  if (o.clientProblem) {
    if (o.clientProblem.reason === 'SecretNotFound' || o.clientProblem.reason === 'CredentialNotOptedIn') return { type, status: 'Unknown', reason: 'Pending', message: `Not checked: ${o.clientProblem.message}` };
    return { type, status: 'False', ...o.clientProblem };
  }
  const want = `retry count ${describeRetries(o.desired.retries)}, interval ${o.desired.intervalSeconds} s`;
  if (o.settingsConflicts.length) {
    return {
      type,
      status: 'False',
      reason: 'RecoverySettingsConflict',
      message: `HsmHaGroup ${o.settingsConflicts.join(', ')} use${o.settingsConflicts.length === 1 ? 's' : ''} the same client host ${o.clientHost} but ask for other auto recovery settings than this group (${want}); hagroup retry and interval are client-wide, so the operator sets neither until the groups agree.`,
    };
  }
  const s = o.settings;
  if (!s || o.settingsUnreadable.length) {
    return { type, status: 'Unknown', reason: 'Pending', message: `hagroup listgroups did not show the ${o.settingsUnreadable.join(' and ') || 'recovery settings'}; they are not changed blindly.` };
  }
  if (!autoRecoveryMatches(s, o.desired)) {
    const have = `retry count ${s.maxRetries === undefined ? 'unknown' : describeRetries(s.maxRetries)}, interval ${s.intervalSeconds ?? 'unknown'} s`;
    return { type, status: 'False', reason: 'ConfiguringGroup', message: `Auto recovery on ${o.clientHost} is ${have}; the spec asks for ${want}${o.mode === 'observe' ? OBSERVE_NOTE : ''}.` };
  }
  const sync = o.synchronizeHeld ? `; ${o.synchronizeHeld}` : '';
  return { type, status: 'True', reason: 'Configured', message: `Auto recovery on ${o.clientHost}: ${want}${sync}.` };
}

export function groupConditions(o: Observation): ConditionLike[] {
  const cloning = cloningDomainConsistent(o);
  return [membersHealthy(o), ...(cloning ? [cloning] : []), autoRecoveryConfigured(o)];
}

/** Ends a sentence once: messages from below may or may not carry their own full stop. */
function withStop(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}
