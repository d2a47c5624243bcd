/**
 * Typed builders of `lunacm -q hagroup ...` commands, run over SSH on the LunaCM client host. The remote side
 * is a POSIX shell, so every argument is validated and single-quoted. No password is ever part of a command line
 * (it would show in the client host's process list and audit log): `creategroup` and `addmember` leave `-password`
 * out, LunaCM then asks for it, and the facade (lunacm-host.ts) types it at that prompt over the channel.
 */
import { shellQuote, validInteger, validName, validPassword, validSerial } from './args.js';
import type { LunaCommand } from './command.js';
import { checkLunaCmChange, warningLines } from './parse/output.js';
import { parseHaGroupList, type HaGroupList } from './parse/hagroup.js';

/** What a LunaCM change printed besides success: e.g. the cloning-domain warning after `addmember`. */
export interface LunaCmOutcome {
  warnings: string[];
}

interface Arg {
  flag: string;
  value?: string;
}

function lunacm<T>(name: string, args: readonly Arg[], changesState: boolean, parse: (out: string) => T): LunaCommand<T> {
  const line = ['lunacm', '-q', ...name.split(' '), ...args.flatMap((a) => [a.flag, ...(a.value === undefined ? [] : [shellQuote(a.value)])])].join(' ');
  return { tool: 'lunacm', name, line, display: line, changesState, parse };
}

/** A command that asks for the group password at LunaCM's prompt: what the facade types there, never on the line. */
export interface PromptedCommand<T> {
  command: LunaCommand<T>;
  /** Typed at the `Enter the password:` prompt, once. */
  password: string;
}

function change(name: string, args: readonly Arg[]): LunaCommand<LunaCmOutcome> {
  return lunacm(name, args, true, (out) => ({ warnings: warningLines(checkLunaCmChange(name, out)) }));
}

export const hagroupListGroups = (): LunaCommand<HaGroupList> => lunacm('hagroup listgroups', [], false, parseHaGroupList);

/**
 * `hagroup creategroup` without `-password`: the Thales command page lists the option as optional and LunaCM prompts
 * for the partition (Crypto Officer) password when it is left out.
 */
export function hagroupCreateGroup(label: string, serial: string, password: string): PromptedCommand<LunaCmOutcome> {
  const command = change('hagroup creategroup', [
    { flag: '-label', value: validName('HA group label', label) },
    { flag: '-serialnumber', value: validSerial('partition serial', serial) },
  ]);
  return { command, password: validPassword('group password', password) };
}

/** `hagroup addmember` without `-password`: LunaCM prompts for the new member's password (see hagroupCreateGroup). */
export function hagroupAddMember(group: string, serial: string, password: string): PromptedCommand<LunaCmOutcome> {
  const command = change('hagroup addmember', [
    { flag: '-group', value: validName('HA group label', group) },
    { flag: '-serialnumber', value: validSerial('partition serial', serial) },
  ]);
  return { command, password: validPassword('group password', password) };
}

export function hagroupRemoveMember(group: string, serial: string): LunaCommand<LunaCmOutcome> {
  return change('hagroup removemember', [
    { flag: '-group', value: validName('HA group label', group) },
    { flag: '-serialnumber', value: validSerial('partition serial', serial) },
  ]);
}

export function hagroupDeleteGroup(label: string): LunaCommand<LunaCmOutcome> {
  return change('hagroup deletegroup', [{ flag: '-label', value: validName('HA group label', label) }]);
}

/** Brings failed members back (the guide's manual recovery). */
export function hagroupRecover(group: string): LunaCommand<LunaCmOutcome> {
  return change('hagroup recover', [{ flag: '-group', value: validName('HA group label', group) }]);
}

/** 0 disables auto recovery (the default), -1 is unlimited, at most 500. */
export function hagroupRetry(count: number): LunaCommand<LunaCmOutcome> {
  return change('hagroup retry', [{ flag: '-count', value: String(validInteger('retry count', count, -1, 500)) }]);
}

/** Auto recovery poll interval, 60..1200 seconds. */
export function hagroupInterval(seconds: number): LunaCommand<LunaCmOutcome> {
  return change('hagroup interval', [{ flag: '-interval', value: String(validInteger('recovery interval', seconds, 60, 1200)) }]);
}

export function hagroupSynchronize(group: string, enable: boolean): LunaCommand<LunaCmOutcome> {
  return change('hagroup synchronize', [{ flag: '-group', value: validName('HA group label', group) }, { flag: enable ? '-enable' : '-disable' }]);
}

/** Every LunaCM command name that changes state. */
export const STATE_CHANGING_LUNACM = [
  'hagroup creategroup',
  'hagroup addmember',
  'hagroup removemember',
  'hagroup deletegroup',
  'hagroup recover',
  'hagroup retry',
  'hagroup interval',
  'hagroup synchronize',
] as const;
