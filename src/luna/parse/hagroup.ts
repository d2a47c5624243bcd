/** LunaCM `hagroup listgroups`: recovery settings, groups, members and the cloning-domain warning. */
import { LunaParseError } from '../errors.js';
import { checkLunaCm, keyValue, lunaCmResult } from './output.js';

export interface HaRecoverySettings {
  autoRecoveryEnabled?: boolean;
  recoveryMode?: string;
  /** `hagroup retry -count`: 0 disables auto recovery, -1 is unlimited. */
  maxRetries?: number;
  intervalSeconds?: number;
}

export interface HaMember {
  serial: string;
  /** Partition label; absent when LunaCM prints dashes (member not reachable). */
  label?: string;
  /** `alive`, `down`, or whatever LunaCM printed, lower-cased. */
  status: string;
}

export interface CloningConflict {
  slotA: number;
  slotB: number;
}

export interface HaGroupInfo {
  label: string;
  number?: string;
  slotId?: number;
  synchronization?: boolean;
  memberSerials: string[];
  needsSync?: boolean;
  standbyMembers: string[];
  members: HaMember[];
  cloningConflicts: CloningConflict[];
}

export interface HaGroupList {
  settings: HaRecoverySettings;
  groups: HaGroupInfo[];
  /** Cloning conflicts printed outside any group block. */
  cloningConflicts: CloningConflict[];
}

const CONFLICT = /Synchronize may fail\.\s+The members in slot (\d+) and slot (\d+) have conflicting settings for private key cloning/gi;

function conflicts(text: string): CloningConflict[] {
  return [...text.matchAll(CONFLICT)].map((m) => ({ slotA: Number(m[1]), slotB: Number(m[2]) }));
}

function serials(value: string): string[] {
  if (/^<?none>?$/i.test(value)) return [];
  return value.split(/[,\s]+/).filter((s) => /^\d+$/.test(s));
}

function yesNo(value: string): boolean | undefined {
  if (/^(yes|enabled|true|on)\b/i.test(value)) return true;
  if (/^(no|disabled|false|off)\b/i.test(value)) return false;
  return undefined;
}

export function parseHaGroupList(raw: string | Buffer): HaGroupList {
  const text = checkLunaCm('hagroup listgroups', raw);
  const chunks = text.split(/^[ \t]*HA Group Label[ \t]*:/m);
  const head = chunks[0] ?? '';
  const settings: HaRecoverySettings = {};
  for (const line of head.split('\n')) {
    const kv = keyValue(line);
    if (!kv) continue;
    const [key, value] = kv;
    if (key === 'ha auto recovery') {
      const v = yesNo(value);
      if (v !== undefined) settings.autoRecoveryEnabled = v;
    } else if (key === 'ha recovery mode') settings.recoveryMode = value || undefined;
    else if (key === 'maximum auto recovery retry') {
      if (/unlimited/i.test(value)) settings.maxRetries = -1;
      else if (/^-?\d+/.test(value)) settings.maxRetries = Number(/^-?\d+/.exec(value)?.[0]);
    } else if (key === 'auto recovery poll interval') {
      const n = /^\d+/.exec(value)?.[0];
      if (n !== undefined) settings.intervalSeconds = Number(n);
    }
  }
  if (settings.recoveryMode === undefined) delete settings.recoveryMode;

  const groups: HaGroupInfo[] = [];
  for (const chunk of chunks.slice(1)) {
    const lines = chunk.split('\n');
    const label = (lines[0] ?? '').trim();
    if (!label) continue;
    const group: HaGroupInfo = { label, memberSerials: [], standbyMembers: [], members: [], cloningConflicts: conflicts(chunk) };
    let inTable = false;
    for (const line of lines.slice(1)) {
      if (/^\s*Slot #/i.test(line)) continue;
      if (/^\s*={3,}/.test(line)) {
        inTable = true;
        continue;
      }
      if (inTable) {
        // Slot, serial, label (right-aligned, may contain spaces; dashes when the member is not reachable), status.
        const row = /^\s*(\S+)\s+(\d{4,})\s+(.*?\S)\s+([A-Za-z]+)\s*$/.exec(line);
        if (row?.[2] && row[3] && row[4]) {
          const member: HaMember = { serial: row[2], status: row[4].toLowerCase() };
          if (!/^-+$/.test(row[3])) member.label = row[3];
          group.members.push(member);
          continue;
        }
        if (/^\s*(?:-+|\d+)\s+\d/.test(line)) throw new LunaParseError('hagroup listgroups', `a member row of group ${label} it cannot read: "${line.trim().slice(0, 120)}"`);
        if (!line.trim()) inTable = false;
      }
      const kv = keyValue(line);
      if (!kv) continue;
      const [key, value] = kv;
      if (key === 'ha group number' && /^\d+$/.test(value)) group.number = value;
      else if (key === 'ha group slot id' && /^\d+$/.test(value)) group.slotId = Number(value);
      else if (key === 'synchronization') {
        const v = yesNo(value);
        if (v !== undefined) group.synchronization = v;
      } else if (key === 'group members') group.memberSerials = serials(value);
      else if (key === 'needs sync') {
        const v = yesNo(value);
        if (v !== undefined) group.needsSync = v;
      } else if (key === 'standby members') group.standbyMembers = serials(value);
    }
    groups.push(group);
  }
  if (groups.length === 0 && Object.keys(settings).length === 0 && lunaCmResult(text) === undefined && !/no ha groups/i.test(text)) {
    throw new LunaParseError('hagroup listgroups', 'neither settings, groups nor a command result');
  }
  return { settings, groups, cloningConflicts: conflicts(head) };
}
