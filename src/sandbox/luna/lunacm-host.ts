/**
 * A simulated LunaCM client host: `lunacm -q hagroup ...` over SSH exec, against HA groups whose members
 * are partitions on simulated appliances. A member goes `down` while its appliance is down and stays down
 * until `hagroup recover` (appliance up again) or auto recovery (only when `hagroup retry -count` != 0, at the
 * poll interval). Member cloning domains that differ print the documented warning; a wrong group password
 * is a Luna error and costs the partition a CO login attempt.
 */
import type { ApplianceSimulator } from './appliance.js';
import type { SimPartition } from './appliance-state.js';
import { countCommand, newCommandCounters, type CommandCounters, type LoginCounters } from './counters.js';
import { SimSshServer, type SimUser, type SshServerCounters } from './ssh-server.js';

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
}

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
}

export interface LunaCmSimulator {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly hostKeyFingerprint: string;
  readonly state: LunaCmState;
  readonly controls: LunaCmControls;
  readonly counters: LunaCmCounters;
  stop(): Promise<void>;
}

const CLONING_WARNING = (a: number, b: number): string => `Warning: Synchronize may fail.  The members in slot ${a} and slot ${b} have conflicting settings for private key cloning.`;

const NO_ERROR = '\nCommand Result : No Error\n';

function lunacmError(message: string, code: number, name: string): string {
  return `\n\tError: ${message}\n\nCommand Result : 0x${code.toString(16).padStart(8, '0')} (${name})\n`;
}

const CKR_ARGUMENTS_BAD = 0x7;
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LOCKED = 0xa4;
const CKR_TOKEN_NOT_PRESENT = 0xe0;
const CKR_DEVICE_ERROR = 0x30;
const CO_LOCKOUT = 10;

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
  const counters: Omit<LunaCmCounters, 'ssh'> = { commands, passwordAttempts: { success: 0, failure: 0 }, autoRecoveries: 0, manualRecoveries: 0 };
  const timeScale = opts.timeScale ?? 1;

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

  /** A CO login on the partition, as LunaCM does with the group password. */
  const checkPassword = (partition: SimPartition, password: string): string | undefined => {
    if (partition.coFailedLogins >= CO_LOCKOUT) {
      counters.passwordAttempts.failure++;
      return lunacmError('The Crypto Officer is locked out of this partition.', CKR_PIN_LOCKED, 'CKR_PIN_LOCKED');
    }
    if (password !== partition.coPassword) {
      counters.passwordAttempts.failure++;
      partition.coFailedLogins++;
      return lunacmError(`Login to partition ${partition.serial} failed.`, CKR_PIN_INCORRECT, 'CKR_PIN_INCORRECT');
    }
    counters.passwordAttempts.success++;
    partition.coFailedLogins = 0;
    return undefined;
  };

  const conflictWarning = (g: HaGroupState): string | undefined => {
    const primary = g.members[0] && partitionOf(g.members[0]);
    if (!primary) return undefined;
    const i = g.members.findIndex((m) => {
      const p = partitionOf(m);
      return p !== undefined && p.cloningDomain !== primary.cloningDomain;
    });
    return i > 0 ? CLONING_WARNING(0, i) : undefined;
  };

  const renderGroup = (g: HaGroupState): string => {
    const rows = g.members.map((m) => {
      const label = m.status === 'alive' ? (partitionOf(m)?.label ?? '------------') : '------------';
      return `    ------  ${m.serial}${label.padStart(34)}${m.status.padStart(10)}`;
    });
    const warning = conflictWarning(g);
    return [
      `${'HA Group Label'.padStart(27)}:  ${g.label}`,
      `${'HA Group Number'.padStart(27)}:  ${g.number}`,
      `${'HA Group Slot ID'.padStart(27)}:  ${g.slotId}`,
      `${'Synchronization'.padStart(26)}:  ${g.synchronize ? 'enabled' : 'disabled'}`,
      `${'Group Members'.padStart(27)}:  ${g.members.map((m) => m.serial).join(', ')}`,
      `${'Needs sync'.padStart(27)}:  no`,
      `${'Standby Members'.padStart(27)}:  <none>`,
      '',
      '    Slot #    Member S/N                      Member Label    Status',
      '    ======    ==========                      ============    ======',
      ...rows,
      ...(warning ? ['', warning] : []),
      '',
    ].join('\n');
  };

  const listGroups = (): string => {
    observe();
    const settings = [
      ['HA auto recovery', state.retryCount !== 0 ? 'enabled' : 'disabled'],
      ['HA recovery mode', 'activeEnhanced'],
      ['Maximum auto recovery retry', state.retryCount === -1 ? 'unlimited' : String(state.retryCount)],
      ['Auto recovery poll interval', `${state.intervalSeconds} seconds`],
      ['HA logging', 'disabled'],
      ['Only Show HA Slots', 'yes'],
    ].map(([k, v]) => `${(k ?? '').padStart(34)}:  ${v}`);
    const groups = [...state.groups.values()].map(renderGroup);
    return `${settings.join('\n')}\n\n${groups.length ? groups.join('\n') : 'There are no HA groups.\n'}${NO_ERROR}`;
  };

  const group = (label: string): HaGroupState | string => state.groups.get(label) ?? lunacmError(`HA group ${label} not found.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD');

  const run = (sub: string, o: Opts): { out: string; code: number } => {
    const s = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
    const fail = (out: string): { out: string; code: number } => ({ out, code: 1 });
    switch (sub) {
      case 'listgroups':
        return { out: listGroups(), code: 0 };
      case 'creategroup': {
        if (state.groups.has(s('label'))) return fail(lunacmError(`HA group ${s('label')} already exists.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        const found = findPartition(s('serialnumber'));
        if (!found) return fail(lunacmError(`No partition with serial number ${s('serialnumber')} found.`, CKR_TOKEN_NOT_PRESENT, 'CKR_TOKEN_NOT_PRESENT'));
        const bad = checkPassword(found.partition, s('password'));
        if (bad) return fail(bad);
        const g: HaGroupState = { label: s('label'), number: `1${found.partition.serial}`, slotId: state.nextSlotId++, synchronize: true, members: [{ serial: found.partition.serial, appliance: found.appliance, status: 'alive', autoAttempts: 0, recoveries: 0 }] };
        state.groups.set(g.label, g);
        return { out: `New group with label "${g.label}" created with group number ${g.number}.\nGroup configuration is:\n\n${renderGroup(g)}${NO_ERROR}`, code: 0 };
      }
      case 'addmember': {
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        if (g.members.some((m) => m.serial === s('serialnumber'))) return fail(lunacmError(`Member ${s('serialnumber')} is already in group ${g.label}.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        const found = findPartition(s('serialnumber'));
        if (!found) return fail(lunacmError(`No partition with serial number ${s('serialnumber')} found.`, CKR_TOKEN_NOT_PRESENT, 'CKR_TOKEN_NOT_PRESENT'));
        const bad = checkPassword(found.partition, s('password'));
        if (bad) return fail(bad);
        g.members.push({ serial: found.partition.serial, appliance: found.appliance, status: 'alive', autoAttempts: 0, recoveries: 0 });
        return { out: `Member ${found.partition.serial} successfully added to group ${g.label}. New group configuration is:\n\n${renderGroup(g)}${NO_ERROR}`, code: 0 };
      }
      case 'removemember': {
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        const before = g.members.length;
        g.members = g.members.filter((m) => m.serial !== s('serialnumber'));
        if (g.members.length === before) return fail(lunacmError(`Member ${s('serialnumber')} not found in group ${g.label}.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        return { out: `Member ${s('serialnumber')} successfully removed from group ${g.label}.\n${NO_ERROR}`, code: 0 };
      }
      case 'deletegroup': {
        const g = group(s('label'));
        if (typeof g === 'string') return fail(g);
        state.groups.delete(g.label);
        return { out: `The HA group ${g.label} was deleted successfully.\n${NO_ERROR}`, code: 0 };
      }
      case 'recover': {
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        observe();
        const lines: string[] = [];
        const stillDown: string[] = [];
        for (const m of g.members) {
          if (m.status !== 'down') continue;
          if (reachable(m)) {
            m.status = 'alive';
            m.autoAttempts = 0;
            m.recoveries++;
            counters.manualRecoveries++;
            lines.push(`Member ${m.serial} recovered.`);
          } else stillDown.push(m.serial);
        }
        if (stillDown.length) return fail(`${lines.join('\n')}${lunacmError(`Failed to recover member(s) ${stillDown.join(', ')}.`, CKR_DEVICE_ERROR, 'CKR_DEVICE_ERROR')}`);
        return { out: `${lines.length ? lines.join('\n') : 'No members need recovery.'}\n${NO_ERROR}`, code: 0 };
      }
      case 'retry': {
        const n = Number(s('count'));
        if (!Number.isInteger(n) || n < -1 || n > 500) return fail(lunacmError('Retry count must be -1 (unlimited), 0 (disabled) or up to 500.', CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        state.retryCount = n;
        return { out: `HA auto recovery retry count set to ${n}.\n${NO_ERROR}`, code: 0 };
      }
      case 'interval': {
        const n = Number(s('interval'));
        if (!Number.isInteger(n) || n < 60 || n > 1200) return fail(lunacmError('Interval must be 60 to 1200 seconds.', CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        state.intervalSeconds = n;
        armRecovery();
        return { out: `HA auto recovery poll interval set to ${n} seconds.\n${NO_ERROR}`, code: 0 };
      }
      case 'synchronize': {
        const g = group(s('group'));
        if (typeof g === 'string') return fail(g);
        if (o.enable === o.disable) return fail(lunacmError('Specify exactly one of -enable or -disable.', CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
        g.synchronize = o.enable === true;
        return { out: `Synchronization ${g.synchronize ? 'enabled' : 'disabled'} for group ${g.label}.\n${NO_ERROR}`, code: 0 };
      }
      default:
        return fail(lunacmError(`Unknown command hagroup ${sub}.`, CKR_ARGUMENTS_BAD, 'CKR_ARGUMENTS_BAD'));
    }
  };

  const ssh = new SimSshServer({
    users: (u) => users.get(u),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    interpreter: async (io) => {
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
      const result = run(sub, o);
      io.write(result.out);
      return result.code;
    },
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
    // The same object the interpreter updates, so tests read live values.
    counters: Object.assign(counters, { ssh: ssh.counters }),
    async stop() {
      clearInterval(watcher);
      clearInterval(recoveryTimer);
      await ssh.stop();
    },
  };
}
