/**
 * A simulated LunaCM client host: `lunacm -q hagroup ...` over SSH exec, against HA groups whose members
 * are partitions on simulated appliances. A member goes `down` while its appliance is down and stays down
 * until `hagroup recover` (appliance up again) or auto recovery (only when `hagroup retry -count` != 0, at the
 * poll interval). Member cloning domains that differ print the documented warning; a wrong group password
 * is a Luna error and costs the partition a CO login attempt.
 *
 * Output forms: `hagroup listgroups` in the documented layouts (`ListGroupsForm`); `addmember` on a member already in
 * a group and `creategroup` with a label in use answer without an `Error` prefix, as public automation
 * (openstack/ansible-role-lunasa-hsm) matches them; `retry` as the Luna 6 HA Recovery page shows it. The other success
 * and failure texts are not documented and are the simulator's (test/fixtures/luna/hagroup-* README files). The
 * renderers are exported for the fixture tests.
 *
 * The group password of `creategroup` / `addmember`: the Thales command pages (lunacm/commands/hagroup/
 * hagroup_creategroup.htm, hagroup_addmember.htm) list `-password` as optional, LunaCM asking for it when it is left
 * out. The prompt's text is taken to be the one LunaCM prints for the `listgroups` password (`\tEnter the password: `,
 * as openstack/ansible-role-lunasa-hsm's expect script waits for it); an assumption where the pages show no transcript.
 * Real LunaCM also takes `-password` on the command line; this simulator REFUSES it (nothing is checked, no CO attempt
 * spent) and counts it, so a test proves the operator never puts the password where the client host's process list
 * and audit log would show it. Every command line received is recorded (`counters.commandLines`).
 */
import type { ApplianceSimulator } from './appliance.js';
import type { SimPartition } from './appliance-state.js';
import { countCommand, newCommandCounters, type CommandCounters, type LoginCounters } from './counters.js';
import { SimSshServer, type ExecIo, type Interpreter, type SimUser, type SshServerCounters } from './ssh-server.js';

export interface LunaCmSimulatorOptions {
  /** Appliances whose partitions can be members. */
  appliances: ApplianceSimulator[];
  username?: string;
  password?: string;
  publicKeys?: string[];
  port?: number;
  /** Auto-recovery interval seconds are multiplied by this (tests: 0.001 makes 60 s into 60 ms). */
  timeScale?: number;
  latencyMs?: number;
  /** Layout of `hagroup listgroups` (default `with-settings`). */
  listGroupsForm?: ListGroupsForm;
}

/**
 * `hagroup listgroups` layouts (thalesdocs "Replacing an HA Group Member", 7 network and 7.2/7.3 PCIe editions):
 * `with-settings` prints the recovery settings, then each group and its member table; `sync-password-prompt`
 * (LunaCM 7.2/7.3) first asks, per group, for the members' password to show synchronization data, optional;
 * `groups-only` prints the groups without the settings block.
 */
export type ListGroupsForm = 'with-settings' | 'sync-password-prompt' | 'groups-only';

export interface HaMemberState {
  serial: string;
  appliance: ApplianceSimulator;
  status: 'alive' | 'down';
  /** Auto-recovery attempts since the member went down. */
  autoAttempts: number;
  recoveries: number;
}

export interface HaGroupState {
  label: string;
  number: string;
  slotId: number;
  synchronize: boolean;
  members: HaMemberState[];
}

export interface LunaCmState {
  groups: Map<string, HaGroupState>;
  /** `hagroup retry -count`: 0 (default) disables auto recovery, -1 unlimited. */
  retryCount: number;
  intervalSeconds: number;
  nextSlotId: number;
}

export interface LunaCmCounters {
  ssh: SshServerCounters;
  commands: CommandCounters;
  /** Partition (CO) password checks done by `creategroup` / `addmember`, by outcome. */
  passwordAttempts: LoginCounters;
  autoRecoveries: number;
  manualRecoveries: number;
  /** Answers to the optional `hagroup listgroups` password prompt (form `sync-password-prompt`). */
  listGroupsPasswordAnswers: { empty: number; typed: number; none: number };
  /**
   * The group password of `creategroup` / `addmember`: prompts printed, answered (a line typed), unanswered (input
   * closed), and commands refused because `-password` was on the command line.
   */
  groupPassword: { prompted: number; answered: number; unanswered: number; onCommandLine: number };
  /** Every exec command line as received: what the client host's process list and audit log would show. */
  commandLines: string[];
}

export interface LunaCmControls {
  setLatency(ms: number, commandPrefix?: string): void;
  dropConnections(): void;
  dropNextCommand(when?: 'before' | 'mid'): void;
  changeHostKey(): string;
  down(): Promise<void>;
  up(): Promise<void>;
  /** One auto-recovery poll now (the timer does the same every interval). */
  runAutoRecovery(): void;
  setPassword(password: string): void;
  setListGroupsForm(form: ListGroupsForm): void;
}

export interface LunaCmSimulator {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly hostKeyFingerprint: string;
  readonly state: LunaCmState;
  readonly controls: LunaCmControls;
  readonly counters: LunaCmCounters;
  /** The command handler behind the simulator's SSH server, for a real sshd to relay to (the conformance tier). */
  readonly interpreter: Interpreter;
  stop(): Promise<void>;
}

const CLONING_WARNING = (a: number, b: number): string => `Warning: Synchronize may fail.  The members in slot ${a} and slot ${b} have conflicting settings for private key cloning.`;

const NO_ERROR = '\nCommand Result : No Error\n';

const result = (code: number, name: string): string => `Command Result : 0x${code.toString(16).padStart(8, '0')} (${name})\n`;

/** A LunaCM failure: a tab-indented `Error:` line and the CKR result. */
export function renderLunaCmError(message: string, code: number, name: string): string {
  return `\n\tError: ${message}\n\n${result(code, name)}`;
}
const lunacmError = renderLunaCmError;

/** A failure LunaCM prints without an `Error` prefix (documented messages, see the module comment). */
export function renderLunaCmNotice(message: string, code: number, name: string): string {
  return `\n\t${message}\n\n${result(code, name)}`;
}

export const renderLunaCmOk = (text: string): string => `${text}${NO_ERROR}`;

/** The simulator's success texts (not documented, except `retrySet`: the Luna 6 HA Recovery page). */
export const LUNACM_MESSAGES = {
  created: (label: string, number: string, block: string): string => `New group with label "${label}" created with group number ${number}.\nGroup configuration is:\n\n${block}`,
  added: (serial: string, label: string, block: string): string => `Member ${serial} successfully added to group ${label}. New group configuration is:\n\n${block}`,
  removed: (serial: string, label: string): string => `Member ${serial} successfully removed from group ${label}.\n`,
  deleted: (label: string): string => `The HA group ${label} was deleted successfully.\n`,
  recovered: (serials: string): string => `${serials
    .split(',')
    .filter(Boolean)
    .map((s) => `Member ${s} recovered.`)
    .join('\n')}\n`,
  retrySet: (n: string): string => `\n\tHA Auto Recovery Count has been set to ${n}\n`,
  intervalSet: (n: string): string => `HA auto recovery poll interval set to ${n} seconds.\n`,
  synchronization: (state: string, label: string): string => `Synchronization ${state} for group ${label}.\n`,
} as const;

export const ALREADY_MEMBER = 'The member you specified is already part of an HA group.';
export const LABEL_USED = 'The label you specified for the new group has already been used.';

/** LunaCM 7.2/7.3: the optional request for the group members' password before the listing, per group. */
export function renderSyncPasswordPrompt(label: string): string {
  return `\n\tIf you would like to see synchronization data for group ${label},\n\tplease enter the password for the group members. Sync info\n\tnot available in HA Only mode.\n\n\n\tEnter the password: `;
}

/** LunaCM asks for the partition (CO) password of `creategroup` / `addmember` when `-password` is left out. */
export function renderGroupPasswordPrompt(): string {
  return '\n\tEnter the password: ';
}

/** The simulator's refusal of a password on the command line (not LunaCM's: see the module comment). */
export const PASSWORD_ON_COMMAND_LINE = 'Refused by the simulator: the password was given on the command line (-password), where the process list shows it. Leave it out and answer the prompt.';

/** What `hagroup listgroups` shows of one group (the fields the operator's parser reads). */
export interface ListGroupView {
  label: string;
  number?: string | undefined;
  slotId?: number | undefined;
  synchronization?: boolean | undefined;
  memberSerials: readonly string[];
  needsSync?: boolean | undefined;
  standbyMembers: readonly string[];
  members: readonly { serial: string; label?: string | undefined; status: string }[];
  cloningConflicts: readonly { slotA: number; slotB: number }[];
}

export interface ListGroupsView {
  settings: { autoRecoveryEnabled?: boolean | undefined; recoveryMode?: string | undefined; maxRetries?: number | undefined; intervalSeconds?: number | undefined };
  groups: readonly ListGroupView[];
}

/** One group block and its member table (labels right-aligned; `------------` for a member that is not reachable). */
export function renderGroupBlock(g: ListGroupView): string {
  const rows = g.members.map((m) => `    ------  ${m.serial}${(m.label ?? '------------').padStart(34)}${m.status.padStart(10)}`);
  const yes = (v: boolean | undefined, t: string, f: string): string => (v ? t : f);
  return [
    `${'HA Group Label'.padStart(27)}:  ${g.label}`,
    `${'HA Group Number'.padStart(27)}:  ${g.number ?? ''}`,
    `${'HA Group Slot ID'.padStart(27)}:  ${g.slotId ?? ''}`,
    `${'Synchronization'.padStart(26)}:  ${yes(g.synchronization, 'enabled', 'disabled')}`,
    `${'Group Members'.padStart(27)}:  ${g.memberSerials.join(', ')}`,
    `${'Needs sync'.padStart(27)}:  ${yes(g.needsSync, 'yes', 'no')}`,
    `${'Standby Members'.padStart(27)}:  ${g.standbyMembers.length ? g.standbyMembers.join(', ') : '<none>'}`,
    '',
    '    Slot #    Member S/N                      Member Label    Status',
    '    ======    ==========                      ============    ======',
    ...rows,
    ...g.cloningConflicts.flatMap((c) => ['', CLONING_WARNING(c.slotA, c.slotB)]),
    '',
  ].join('\n');
}

/** `hagroup listgroups` without its optional password prompt (`sync-password-prompt` prints that first). */
export function renderListGroups(view: ListGroupsView, form: Exclude<ListGroupsForm, 'sync-password-prompt'>): string {
  const s = view.settings;
  const settings = [
    ['HA auto recovery', s.autoRecoveryEnabled ? 'enabled' : 'disabled'],
    ['HA recovery mode', s.recoveryMode ?? 'activeEnhanced'],
    ['Maximum auto recovery retry', s.maxRetries === -1 ? 'unlimited' : String(s.maxRetries ?? 0)],
    ['Auto recovery poll interval', `${s.intervalSeconds ?? 60} seconds`],
    ['HA logging', 'disabled'],
    ['Only Show HA Slots', 'yes'],
  ].map(([k, v]) => `${(k ?? '').padStart(34)}:  ${v}`);
  const groups = view.groups.map(renderGroupBlock);
  const head = form === 'with-settings' ? `${settings.join('\n')}\n\n` : '';
  return `${head}${groups.length ? groups.join('\n') : 'There are no HA groups.\n'}${NO_ERROR}`;
}

const CKR_ARGUMENTS_BAD = 0x7;
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LOCKED = 0xa4;
const CKR_TOKEN_NOT_PRESENT = 0xe0;
const CKR_DEVICE_ERROR = 0x30;
const CO_LOCKOUT = 10;

/**
 * A Crypto Officer login on a partition, as LunaCM makes it with the group password: refused once locked out, a wrong
 * password counts towards the lockout, a right one resets it. Undefined when it succeeded, else LunaCM's error text.
 * The one rule, shared by this simulator and the in-memory device fake.
 */
export function checkCoLogin(
  partition: { serial: string; coPassword: string; coFailedLogins: number },
  password: string,
  attempts: { success: number; failure: number },
): string | undefined {
  if (partition.coFailedLogins >= CO_LOCKOUT) {
    attempts.failure++;
    return lunacmError('The Crypto Officer is locked out of this partition.', CKR_PIN_LOCKED, 'CKR_PIN_LOCKED');
  }
  if (password !== partition.coPassword) {
    attempts.failure++;
    partition.coFailedLogins++;
    return lunacmError(`Login to partition ${partition.serial} failed.`, CKR_PIN_INCORRECT, 'CKR_PIN_INCORRECT');
  }
  attempts.success++;
  partition.coFailedLogins = 0;
  return undefined;
}

/** POSIX-shell words: quotes and backslashes honoured; unquoted metacharacters refuse the line. */
export function shellWords(line: string): string[] | undefined {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return undefined;
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        if (line[j] === '$' || line[j] === '`') return undefined;
        cur += line[j];
      }
      if (j >= line.length) return undefined;
      i = j;
      inWord = true;
    } else if (c === '\\') {
      cur += line[++i] ?? '';
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (/[;|&$`<>(){}*?!#~]/.test(c)) {
      return undefined;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

type Opts = Record<string, string | true>;

interface SubSpec {
  options: Record<string, 'value' | 'flag'>;
  changesState: boolean;
}

const SUBS: Record<string, SubSpec> = {
  listgroups: { options: {}, changesState: false },
  creategroup: { options: { label: 'value', serialnumber: 'value', password: 'value' }, changesState: true },
  addmember: { options: { group: 'value', serialnumber: 'value', password: 'value' }, changesState: true },
  removemember: { options: { group: 'value', serialnumber: 'value' }, changesState: true },
  deletegroup: { options: { label: 'value' }, changesState: true },
  recover: { options: { group: 'value' }, changesState: true },
  retry: { options: { count: 'value' }, changesState: true },
  interval: { options: { interval: 'value' }, changesState: true },
  synchronize: { options: { group: 'value', enable: 'flag', disable: 'flag' }, changesState: true },
};

function resolveOption(token: string, spec: SubSpec): string | undefined {
  const t = token.replace(/^-/, '').toLowerCase();
  const names = Object.keys(spec.options);
  if (names.includes(t)) return t;
  const m = names.filter((n) => n.startsWith(t));
  return m.length === 1 ? m[0] : undefined;
}

export async function startLunaCmSimulator(opts: LunaCmSimulatorOptions): Promise<LunaCmSimulator> {
  const username = opts.username ?? 'azureuser';
  const users = new Map<string, SimUser>([[username, { ...(opts.password !== undefined || !opts.publicKeys ? { password: opts.password ?? 'lunacm-password' } : {}), ...(opts.publicKeys ? { publicKeys: opts.publicKeys } : {}) }]]);
  const state: LunaCmState = { groups: new Map(), retryCount: 0, intervalSeconds: 60, nextSlotId: 5 };
  const commands = newCommandCounters();
  const counters: Omit<LunaCmCounters, 'ssh'> = {
    commands,
    passwordAttempts: { success: 0, failure: 0 },
    autoRecoveries: 0,
    manualRecoveries: 0,
    listGroupsPasswordAnswers: { empty: 0, typed: 0, none: 0 },
    groupPassword: { prompted: 0, answered: 0, unanswered: 0, onCommandLine: 0 },
    commandLines: [],
  };
  const timeScale = opts.timeScale ?? 1;
  let listGroupsForm: ListGroupsForm = opts.listGroupsForm ?? 'with-settings';

  const partitionOf = (m: { serial: string; appliance: ApplianceSimulator }): SimPartition | undefined => m.appliance.state.partitions.find((p) => p.serial === m.serial);
  const reachable = (m: HaMemberState): boolean => !m.appliance.controls.isDown && partitionOf(m) !== undefined;

  /** LunaCM notices unreachable members as soon as it uses them: a watcher stands in for its polling. */
  const observe = (): void => {
    for (const g of state.groups.values()) for (const m of g.members) if (m.status === 'alive' && !reachable(m)) m.status = 'down';
  };
  const watcher = setInterval(observe, 25);
  watcher.unref();

  const runAutoRecovery = (): void => {
    observe();
    if (state.retryCount === 0) return;
    for (const g of state.groups.values()) {
      for (const m of g.members) {
        if (m.status !== 'down' || (state.retryCount !== -1 && m.autoAttempts >= state.retryCount)) continue;
        m.autoAttempts++;
        if (reachable(m)) {
          m.status = 'alive';
          m.autoAttempts = 0;
          m.recoveries++;
          counters.autoRecoveries++;
        }
      }
    }
  };
  let recoveryTimer: NodeJS.Timeout | undefined;
  const armRecovery = (): void => {
    clearInterval(recoveryTimer);
    recoveryTimer = setInterval(runAutoRecovery, Math.max(1, state.intervalSeconds * 1000 * timeScale));
    recoveryTimer.unref();
  };
  armRecovery();

  const findPartition = (serial: string): { appliance: ApplianceSimulator; partition: SimPartition } | undefined => {
    for (const appliance of opts.appliances) {
      if (appliance.controls.isDown) continue;
      const partition = appliance.state.partitions.find((p) => p.serial === serial);
      if (partition) return { appliance, partition };
    }
    return undefined;
  };

  const checkPassword = (partition: SimPartition, password: string): string | undefined => checkCoLogin(partition, password, counters.passwordAttempts);

  /** The group password, read at LunaCM's prompt; a string is the failure to print instead. */
  const promptedPassword = async (o: Opts, io: ExecIo): Promise<{ password: string } | { fail: string }> => {
    if (o.password !== undefined) {
      counters.groupPassword.onCommandLine++;
      return { fail: lunacmError(PASSWORD_ON_COMMAND_LINE, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD') };
    }
    counters.groupPassword.prompted++;
    io.write(renderGroupPasswordPrompt());
    const line = await io.readLine();
    if (line === null) {
      counters.groupPassword.unanswered++;
      return { fail: lunacmError('No password was entered.', CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD') };
    }
    counters.groupPassword.answered++;
    return { password: line };
  };

  const conflictSlots = (g: HaGroupState): { slotA: number; slotB: number } | undefined => {
    const primary = g.members[0] && partitionOf(g.members[0]);
    if (!primary) return undefined;
    const i = g.members.findIndex((m) => {
      const p = partitionOf(m);
      return p !== undefined && p.cloningDomain !== primary.cloningDomain;
    });
    return i > 0 ? { slotA: 0, slotB: i } : undefined;
  };

  const viewOf = (g: HaGroupState): ListGroupView => {
    const warning = conflictSlots(g);
    return {
      label: g.label,
      number: g.number,
      slotId: g.slotId,
      synchronization: g.synchronize,
      memberSerials: g.members.map((m) => m.serial),
      needsSync: false,
      standbyMembers: [],
      members: g.members.map((m) => ({ serial: m.serial, status: m.status, ...(m.status === 'alive' && partitionOf(m) ? { label: partitionOf(m)?.label } : {}) })),
      cloningConflicts: warning ? [warning] : [],
    };
  };
  const renderGroup = (g: HaGroupState): string => renderGroupBlock(viewOf(g));

  const listGroups = async (io: ExecIo): Promise<string> => {
    observe();
    const view: ListGroupsView = {
      settings: { autoRecoveryEnabled: state.retryCount !== 0, recoveryMode: 'activeEnhanced', maxRetries: state.retryCount, intervalSeconds: state.intervalSeconds },
      groups: [...state.groups.values()].map(viewOf),
    };
    if (listGroupsForm !== 'sync-password-prompt') return renderListGroups(view, listGroupsForm);
    let prompts = '';
    for (const g of view.groups) {
      io.write(`${prompts}${renderSyncPasswordPrompt(g.label)}`);
      prompts = '';
      const answer = await io.readLine();
      const a = counters.listGroupsPasswordAnswers;
      if (answer === null) a.none++;
      else if (answer === '') a.empty++;
      else a.typed++;
    }
    return `${view.groups.length ? '\n\n' : ''}${renderListGroups(view, 'with-settings')}`;
  };

  const group = (label: string): HaGroupState | string => state.groups.get(label) ?? lunacmError(`HA group ${label} not found.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD');

  const run = async (sub: string, o: Opts, io: ExecIo): Promise<{ out: string; code: number }> => {
    const s = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
    const fail = (out: string): { out: string; code: number } => ({ out, code: 1 });
    switch (sub) {
      case 'listgroups':
        return { out: await listGroups(io), code: 0 };
      case 'creategroup': {
        const pw = await promptedPassword(o, io);
        if ('fail' in pw) return fail(pw.fail);
        if (state.groups.has(s('label'))) return fail(renderLunaCmNotice(LABEL_USED, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        const found = findPartition(s('serialnumber'));
        if (!found) return fail(lunacmError(`No partition with serial number ${s('serialnumber')} found.`, CKR_TOKEN_NOT_PRESENT, 'CKR_TOKEN_NOT_PRESENT'));
        const bad = checkPassword(found.partition, pw.password);
        if (bad) return fail(bad);
        const g: HaGroupState = { label: s('label'), number: `1${found.partition.serial}`, slotId: state.nextSlotId++, synchronize: true, members: [{ serial: found.partition.serial, appliance: found.appliance, status: 'alive', autoAttempts: 0, recoveries: 0 }] };
        state.groups.set(g.label, g);
        return { out: renderLunaCmOk(LUNACM_MESSAGES.created(g.label, g.number, renderGroup(g))), code: 0 };
      }
      case 'addmember': {
        const pw = await promptedPassword(o, io);
        if ('fail' in pw) return fail(pw.fail);
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        const elsewhere = [...state.groups.values()].some((x) => x.members.some((m) => m.serial === s('serialnumber')));
        if (elsewhere) return fail(renderLunaCmNotice(ALREADY_MEMBER, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        const found = findPartition(s('serialnumber'));
        if (!found) return fail(lunacmError(`No partition with serial number ${s('serialnumber')} found.`, CKR_TOKEN_NOT_PRESENT, 'CKR_TOKEN_NOT_PRESENT'));
        const bad = checkPassword(found.partition, pw.password);
        if (bad) return fail(bad);
        g.members.push({ serial: found.partition.serial, appliance: found.appliance, status: 'alive', autoAttempts: 0, recoveries: 0 });
        return { out: renderLunaCmOk(LUNACM_MESSAGES.added(found.partition.serial, g.label, renderGroup(g))), code: 0 };
      }
      case 'removemember': {
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        const before = g.members.length;
        g.members = g.members.filter((m) => m.serial !== s('serialnumber'));
        if (g.members.length === before) return fail(lunacmError(`Member ${s('serialnumber')} not found in group ${g.label}.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        return { out: renderLunaCmOk(LUNACM_MESSAGES.removed(s('serialnumber'), g.label)), code: 0 };
      }
      case 'deletegroup': {
        const g = group(s('label'));
        if (typeof g === 'string') return fail(g);
        state.groups.delete(g.label);
        return { out: renderLunaCmOk(LUNACM_MESSAGES.deleted(g.label)), code: 0 };
      }
      case 'recover': {
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        observe();
        const lines: string[] = [];
        const back: string[] = [];
        const stillDown: string[] = [];
        for (const m of g.members) {
          if (m.status !== 'down') continue;
          if (reachable(m)) {
            m.status = 'alive';
            m.autoAttempts = 0;
            m.recoveries++;
            counters.manualRecoveries++;
            back.push(m.serial);
            lines.push(`Member ${m.serial} recovered.`);
          } else stillDown.push(m.serial);
        }
        if (stillDown.length) return fail(`${lines.join('\n')}${lunacmError(`Failed to recover member(s) ${stillDown.join(', ')}.`, CKR_DEVICE_ERROR, 'CKR_DEVICE_ERROR')}`);
        return { out: renderLunaCmOk(back.length ? LUNACM_MESSAGES.recovered(back.join(',')) : 'No members need recovery.\n'), code: 0 };
      }
      case 'retry': {
        const n = Number(s('count'));
        if (!Number.isInteger(n) || n < -1 || n > 500) return fail(lunacmError('Retry count must be -1 (unlimited), 0 (disabled) or up to 500.', CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        state.retryCount = n;
        return { out: renderLunaCmOk(LUNACM_MESSAGES.retrySet(String(n))), code: 0 };
      }
      case 'interval': {
        const n = Number(s('interval'));
        if (!Number.isInteger(n) || n < 60 || n > 1200) return fail(lunacmError('Interval must be 60 to 1200 seconds.', CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        state.intervalSeconds = n;
        armRecovery();
        return { out: renderLunaCmOk(LUNACM_MESSAGES.intervalSet(String(n))), code: 0 };
      }
      case 'synchronize': {
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        if (o.enable === o.disable) return fail(lunacmError('Specify exactly one of -enable or -disable.', CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        g.synchronize = o.enable === true;
        return { out: renderLunaCmOk(LUNACM_MESSAGES.synchronization(g.synchronize ? 'enabled' : 'disabled', g.label)), code: 0 };
      }
      default:
        return fail(lunacmError(`Unknown command hagroup ${sub}.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
    }
  };

  const interpreter: Interpreter = async (io) => {
    counters.commandLines.push(io.command);
    const words = shellWords(io.command);
    if (!words) {
      commands.rejected++;
      io.writeStderr('bash: syntax error: unexpected or unquoted shell metacharacter\n');
      return 2;
    }
    const [prog, ...args] = words;
    if (prog !== 'lunacm') {
      commands.rejected++;
      io.writeStderr(`bash: ${prog ?? ''}: command not found\n`);
      return 127;
    }
    if (args[0] === '-q') args.shift();
    const [cmdGroup, subToken = '', ...rest] = args;
    const spec = cmdGroup === 'hagroup' ? SUBS[subToken.toLowerCase()] : undefined;
    if (!spec) {
      commands.rejected++;
      io.write(lunacmError(`Unknown command: ${args.slice(0, 2).join(' ')}`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
      return 1;
    }
    const sub = subToken.toLowerCase();
    const o: Opts = {};
    for (let i = 0; i < rest.length; i++) {
      const name = resolveOption(rest[i] ?? '', spec);
      if (!name) {
        commands.rejected++;
        io.write(lunacmError(`Invalid option ${rest[i] ?? ''}.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        return 1;
      }
      o[name] = spec.options[name] === 'flag' ? true : (rest[++i] ?? '');
    }
    countCommand(commands, `hagroup ${sub}`, spec.changesState);
    const answer = await run(sub, o, io);
    io.write(answer.out);
    return answer.code;
  };
  const ssh = new SimSshServer({
    users: (u) => users.get(u),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    interpreter,
  });
  ssh.faults.latencyMs = opts.latencyMs ?? 0;
  await ssh.start();

  const controls: LunaCmControls = {
    setLatency(ms, prefix) {
      if (prefix === undefined) ssh.faults.latencyMs = ms;
      else ssh.faults.latencyByCommand.set(prefix, ms);
    },
    dropConnections: () => ssh.dropConnections(),
    dropNextCommand(when = 'mid') {
      ssh.faults.dropNext.push(when);
    },
    changeHostKey: () => ssh.changeHostKey(),
    down: () => ssh.stop(),
    up: () => ssh.start(),
    runAutoRecovery,
    setPassword(password) {
      users.set(username, { ...users.get(username), password });
    },
    setListGroupsForm(form) {
      listGroupsForm = form;
    },
  };

  return {
    host: '127.0.0.1',
    port: ssh.port,
    username,
    get hostKeyFingerprint() {
      return ssh.hostKeyFingerprint;
    },
    state,
    controls,
    interpreter,
    // The same object the interpreter updates, so tests read live values.
    counters: Object.assign(counters, { ssh: ssh.counters }),
    async stop() {
      clearInterval(watcher);
      clearInterval(recoveryTimer);
      await ssh.stop();
    },
  };
}
