/**
 * The appliance shell (lunash) as the simulator speaks it over SSH exec, with the output formats of
 * docs/reference luna-shell.md and the Thales pages named below: results, `Error:` blocks with Luna codes,
 * confirmations, and abbreviations (`par list`, `-c` for `-client`).
 *
 * Where Luna versions print a command differently, each documented form is a `LunashForms` choice (set per
 * appliance with `setLunashForms`); the renderers are exported so the fixture tests (test/fixtures/luna) can check
 * that the simulator prints each documented form exactly.
 */
import { digestHex, parseCertificate } from '../../pki/index.js';
import { homeOf, refreshServerPem, registerClient, serverCertificateFor, zeroize, type ApplianceState } from './appliance-state.js';
import { countCommand, type CommandCounters, type LoginCounters } from './counters.js';
import { parseScpCommand, scpSink, scpSource } from './scp-server.js';
import type { ExecIo, Interpreter } from './ssh-server.js';

export interface LunashHooks {
  state: ApplianceState;
  commands: CommandCounters;
  hsmLogins: LoginCounters;
  /** Registered clients changed: NTLS must trust the new set. */
  clientsChanged(): void;
  /** The NTLS server certificate was replaced. */
  serverCertChanged(): void;
}

type Options = Record<string, string | true>;

/**
 * Output forms that differ between Luna versions.
 * - `hsmLogin`: `luna7` prints the last-attempt caution, then `Type 'proceed' to continue, or 'quit' to quit now.`
 *   and a bare `>` prompt line; `luna6` (older firmware; thalesdocs gphsm/luna/6.x .../users/resetting_passwords.htm)
 *   also prints a caution that mentions ZEROIZED two attempts before the end, and wraps its `Type 'proceed' ... or
 *   'quit' to quit now.` sentence over two lines before the `>` line. Both ask `Please enter the HSM
 *   Administrators' password:` with `>` on the next line.
 * - `partitionList`: `version-column` (7.x table with `Partition Version`, reference notes) or `no-version-column`
 *   (the layout issue 18 reports; no Thales page in reach shows it, see test/fixtures/luna/partition-list/README.md).
 */
export interface LunashForms {
  hsmLogin: 'luna7' | 'luna6';
  partitionList: 'version-column' | 'no-version-column';
}

const DEFAULT_FORMS: LunashForms = { hsmLogin: 'luna7', partitionList: 'version-column' };
const FORMS = new WeakMap<ApplianceState, LunashForms>();

/** Chooses the output forms of one simulated appliance (tests: `setLunashForms(sim.state, { hsmLogin: 'luna6' })`). */
export function setLunashForms(state: ApplianceState, forms: Partial<LunashForms>): void {
  FORMS.set(state, { ...lunashForms(state), ...forms });
}

export function lunashForms(state: ApplianceState): LunashForms {
  return FORMS.get(state) ?? DEFAULT_FORMS;
}

/** Answers the simulator received at confirmation prompts (`Type 'proceed' ... or 'quit'`), by answer. */
export interface ConfirmationAnswers {
  proceed: number;
  quit: number;
  /** Anything else, or end of input. */
  other: number;
}

const ANSWERS = new WeakMap<ApplianceState, ConfirmationAnswers>();

export function confirmationAnswers(state: ApplianceState): ConfirmationAnswers {
  let a = ANSWERS.get(state);
  if (!a) {
    a = { proceed: 0, quit: 0, other: 0 };
    ANSWERS.set(state, a);
  }
  return a;
}

interface Ctx {
  io: ExecIo;
  opts: Options;
  h: LunashHooks;
  out: (text: string) => void;
}

interface Spec {
  name: string;
  options: Record<string, 'value' | 'flag'>;
  changesState: boolean;
  run: (ctx: Ctx) => Promise<number> | number;
}

const SHELL_FAILURE = '\n\nCommand Result : 65535 (Luna Shell execution)\n';
const SUCCESS = '\nCommand Result : 0 (Success)\n';

export const renderOk = (name: string, note = ''): string => `'${name}' successful.${note}\n${SUCCESS}`;
const ok = renderOk;

export function renderFailed(name: string, code: string, rc: string, ...details: string[]): string {
  return `Error:  '${name}' failed. (${code} : ${rc})\n\n${details.map((d) => `Error:  ${d}\n`).join('\n')}${SHELL_FAILURE}`;
}
const failed = renderFailed;

/** An `Error:` line without the `'<command>' failed. (code : name)` line, and the 65535 result. */
export const renderShellError = (message: string): string => `Error:  ${message}${SHELL_FAILURE}`;
const syntax = renderShellError;

const NOT_IN_LIST = ['C000040A', 'RC_OBJECT_NOT_IN_LIST'] as const;

function kv(key: string, value: string, width: number): string {
  return `${`   ${key}:`.padEnd(width)}${value}`.replace(/\s+$/, '');
}

/** A lunash confirmation: the caution, `Type 'proceed' to continue, or 'quit' to quit now.`, a bare `>` line. */
export function renderConfirmation(caution: string): string {
  return `${caution}\n\nType 'proceed' to continue, or 'quit' to quit now.\n\n> `;
}

/** Reads the answer to a confirmation prompt already printed; counts it. */
async function answer(ctx: Ctx): Promise<boolean> {
  const line = await ctx.io.readLine();
  const a = confirmationAnswers(ctx.h.state);
  const word = line?.trim().toLowerCase();
  if (word === 'proceed') a.proceed++;
  else if (word === 'quit') a.quit++;
  else a.other++;
  if (word === 'proceed') {
    ctx.out('\n');
    return true;
  }
  ctx.out(`\nCommand Aborted.${SHELL_FAILURE}`);
  return false;
}

async function confirm(ctx: Ctx, caution: string): Promise<boolean> {
  if (ctx.opts.force === true) return true;
  ctx.out(renderConfirmation(caution));
  return answer(ctx);
}

export interface HsmShowView {
  softwareVersion: string;
  label: string;
  serial: string;
  firmware: string;
  model: string;
  zeroized: boolean;
  soAttemptsLeft: number;
  partitions: readonly { serial: string; label: string }[];
}

/** `hsm show` as the Azure Dedicated HSM documentation prints it (7.2 appliance software, firmware 7.0.x). */
export function renderHsmShow(s: HsmShowView): string {
  const lines = [
    '   Appliance Details:',
    '   ==================',
    kv('Software Version', s.softwareVersion, 36),
    '',
    '   HSM Details:',
    '   ============',
    kv('HSM Label', s.label, 39),
    kv('Serial #', s.serial, 39),
    kv('Firmware', s.firmware, 39),
    kv('HSM Model', s.model, 39),
    kv('Authentication Method', 'Password', 39),
    kv('HSM Admin login status', 'Not Logged In', 39),
    kv('HSM Admin login attempts left', s.zeroized ? 'HSM IS ZEROIZED !!!!' : `${s.soAttemptsLeft} before HSM zeroization!`, 39),
    kv('Rollback Firmware', 'Not Available', 39),
    kv('Manually Zeroized', 'No', 39),
    kv('Remote Login Initialized', 'No', 39),
    '',
    '   Partitions created on HSM:',
    '   ==============================',
    ...(s.partitions.length ? s.partitions.map((p) => `   Partition: ${p.serial}, Name: ${p.label}`) : ['   There are no partitions.']),
    '',
  ];
  return `${lines.join('\n')}${SUCCESS}`;
}

function hsmShow({ h, out }: Ctx): number {
  out(renderHsmShow(h.state));
  return 0;
}

/** The `hsm login` texts of each form (see `LunashForms`). */
export const HSM_LOGIN_TEXT = {
  passwordPrompt: "Please enter the HSM Administrators' password:\n> ",
  /** luna6 only, two attempts left. */
  twoLeft:
    'Caution:  You have only TWO HSM Admin login attempts left. If\n          you fail two more consecutive login attempts (i.e.\n          with no successful logins in between) the HSM will\n          be ZEROIZED!!!\n\n',
  lastAttempt: {
    luna7: renderConfirmation(
      'Caution:  This is your LAST available HSM Admin login attempt.\n          If you enter an incorrect password, the HSM will be\n          ZEROIZED and all of its contents will be lost.',
    ),
    luna6:
      "Caution:  This is your LAST available HSM Admin login attempt.\n          If the wrong HSM Admin password is provided the HSM will\n          be ZEROIZED!!!\n\nType 'proceed' if you are certain you have the\nright login credentials or 'quit' to quit now.\n> ",
  },
} as const;

async function hsmLogin(ctx: Ctx): Promise<number> {
  const { h, io, out } = ctx;
  const s = h.state;
  if (s.zeroized) {
    out(failed('hsm login', '300014', 'LUNA_RET_SO_NOT_INITIALIZED', 'The HSM is zeroized; it must be initialized first.'));
    return 1;
  }
  const form = lunashForms(s).hsmLogin;
  if (s.soAttemptsLeft === 1) {
    out(HSM_LOGIN_TEXT.lastAttempt[form]);
    if (!(await answer(ctx))) return 1;
  } else if (s.soAttemptsLeft === 2 && form === 'luna6') {
    out(HSM_LOGIN_TEXT.twoLeft);
  }
  out(HSM_LOGIN_TEXT.passwordPrompt);
  const password = await io.readLine();
  if (password === null) {
    // No input, no attempt: the HSM did not see a password.
    out(`\nCommand Aborted.${SHELL_FAILURE}`);
    return 1;
  }
  out('\n\n');
  if (password === s.soPassword) {
    h.hsmLogins.success++;
    s.soAttemptsLeft = 3;
    out(ok('hsm login'));
    return 0;
  }
  h.hsmLogins.failure++;
  s.soAttemptsLeft--;
  if (s.soAttemptsLeft <= 0) {
    zeroize(s);
    h.clientsChanged();
    out(failed('hsm login', '30000F', 'LUNA_RET_SO_LOGIN_FAILURE_THRESHOLD', 'The HSM has been zeroized.'));
  } else {
    out(failed('hsm login', 'A00000', 'LUNA_RET_UM_PIN_INCORRECT', `Login failed. ${s.soAttemptsLeft} attempts left before HSM zeroization.`));
  }
  return 1;
}

export interface PartitionRow {
  serial: string;
  label: string;
  version?: string;
  objects: number;
  total: number;
  used: number;
  free: number;
}

/** `partition list` in either documented layout (see `LunashForms`). */
export function renderPartitionList(rows: readonly PartitionRow[], form: LunashForms['partitionList']): string {
  const num = (n: number): string => String(n).padStart(7);
  if (form === 'no-version-column') {
    return (
      [
        '                                                       ----------------------------------',
        'Partition            Name                              Objects  Total     Used     Free',
        '===================  ================================  =======  =======  =======  =======',
        ...rows.map((p) => `${p.serial.padEnd(21)}${p.label.padEnd(34)}${num(p.objects)}  ${num(p.total)}  ${num(p.used)}  ${num(p.free)}`),
        '',
      ].join('\n') + SUCCESS
    );
  }
  return (
    [
      '                                                            Partition    ----------------------------------',
      'Partition            Name                              Version      Objects  Total     Used     Free',
      '===================  ================================  ===========  =======  =======  =======  =======',
      ...rows.map((p) => `${p.serial.padEnd(21)}${p.label.padEnd(34)}${(p.version ?? '0').padEnd(13)}${num(p.objects)}  ${num(p.total)}  ${num(p.used)}  ${num(p.free)}`),
      '',
    ].join('\n') + SUCCESS
  );
}

function partitionList({ h, out }: Ctx): number {
  const rows = h.state.partitions.map((p) => ({ serial: p.serial, label: p.label, version: '0', objects: p.objects, total: 648381, used: 0, free: 648381 }));
  out(renderPartitionList(rows, lunashForms(h.state).partitionList));
  return 0;
}

/** `client list` (reference notes): one `registered client <n>: <name>` line each; names may contain spaces. */
export function renderClientList(names: readonly string[]): string {
  return names.length ? `${names.map((n, i) => `registered client ${i + 1}: ${n}`).join('\n')}\n${SUCCESS}` : `No clients are registered.\n${SUCCESS}`;
}

function clientList({ h, out }: Ctx): number {
  out(renderClientList([...h.state.clients.keys()]));
  return 0;
}

function requireClient(ctx: Ctx, name: string) {
  const client = ctx.h.state.clients.get(String(ctx.opts.client));
  if (!client) ctx.out(failed(name, ...NOT_IN_LIST, 'Specified client does not exist.'));
  return client;
}

/** `client show` (reference notes): partitions quoted, `<none>` when there are none. */
export function renderClientShow(c: { name: string; hostname?: string | undefined; ip?: string | undefined; partitions: readonly string[] }): string {
  const parts = c.partitions.length ? c.partitions.map((p) => `"${p}"`).join(', ') : '<none>';
  const lines = [`ClientID:     ${c.name}`, ...(c.ip !== undefined ? [`IP Address:   ${c.ip}`] : []), `Hostname:     ${c.hostname ?? c.ip ?? ''}`, `Partitions:   ${parts}`, ''];
  return lines.join('\n') + SUCCESS;
}

function clientShow(ctx: Ctx): number {
  const c = requireClient(ctx, 'client show');
  if (!c) return 1;
  ctx.out(renderClientShow(c));
  return 0;
}

export const renderClientFingerprint = (fingerprint: string): string => `Certificate fingerprint: ${fingerprint}\n${SUCCESS}`;

function clientFingerprint(ctx: Ctx): number {
  const c = requireClient(ctx, 'client fingerprint');
  if (!c) return 1;
  ctx.out(renderClientFingerprint(digestHex(c.certDer, ctx.h.state.fingerprintDigest)));
  return 0;
}

function clientRegister(ctx: Ctx): number {
  const { h, opts, io, out } = ctx;
  const name = String(opts.client);
  const host = typeof opts.hostname === 'string' ? opts.hostname : typeof opts.ip === 'string' ? opts.ip : undefined;
  if (host === undefined) {
    out(syntax("'client register' requires -hostname or -ip."));
    return 1;
  }
  if (h.state.clients.has(name)) {
    out(failed('client register', 'C0000404', 'RC_OBJECT_ALREADY_EXISTS', 'A client with the specified name already exists.'));
    return 1;
  }
  // The message public automation matches (openstack/ansible-role-lunasa-hsm, tasks/register_client.yaml).
  if (typeof opts.ip === 'string' && [...h.state.clients.values()].some((c) => c.ip === opts.ip)) {
    out(renderShellError('A client with the same IP address has already been registered.'));
    return 1;
  }
  const file = homeOf(h.state, io.username).get(`${host}.pem`);
  if (!file) {
    out(failed('client register', 'C0000406', 'RC_FILE_NOT_FOUND', `Certificate file ${host}.pem not found. Copy it to the appliance with scp first.`));
    return 1;
  }
  try {
    parseCertificate(file);
  } catch {
    out(failed('client register', 'C0000407', 'RC_INVALID_CERTIFICATE', `${host}.pem is not a valid certificate.`));
    return 1;
  }
  registerClient(h.state, { name, certPem: file.toString('utf8'), ...(typeof opts.hostname === 'string' ? { hostname: opts.hostname } : { ip: host }) });
  h.clientsChanged();
  out(ok('client register'));
  return 0;
}

function partitionAccess(ctx: Ctx, assign: boolean): number {
  const name = assign ? 'client assignPartition' : 'client revokePartition';
  const c = requireClient(ctx, name);
  if (!c) return 1;
  const label = String(ctx.opts.partition);
  if (!ctx.h.state.partitions.some((p) => p.label === label)) {
    ctx.out(failed(name, ...NOT_IN_LIST, 'Specified partition does not exist.'));
    return 1;
  }
  const has = c.partitions.includes(label);
  if (assign && has) {
    ctx.out(failed(name, 'C0000405', 'RC_ALREADY_ASSIGNED', 'The client already has access to the specified partition.'));
    return 1;
  }
  if (!assign && !has) {
    // As the reference notes give it: the message alone, without the `'<command>' failed` line.
    ctx.out(renderShellError('Specified partition was not assigned to client'));
    return 1;
  }
  c.partitions = assign ? [...c.partitions, label] : c.partitions.filter((p) => p !== label);
  ctx.h.clientsChanged();
  ctx.out(ok(name));
  return 0;
}

async function clientDelete(ctx: Ctx): Promise<number> {
  const c = requireClient(ctx, 'client delete');
  if (!c) return 1;
  if (!(await confirm(ctx, `CAUTION:  Are you sure you wish to delete client named:\n          ${c.name}`))) return 1;
  ctx.h.state.clients.delete(c.name);
  ctx.h.clientsChanged();
  ctx.out(ok('client delete'));
  return 0;
}

async function regenCert(ctx: Ctx): Promise<number> {
  if (!(await confirm(ctx, 'WARNING !!  This command will overwrite the current server certificate and private key.\n            All clients will have to be re-configured with this new certificate.'))) return 1;
  ctx.h.state.serverCert = await serverCertificateFor(ctx.h.state.hostname);
  refreshServerPem(ctx.h.state);
  ctx.h.serverCertChanged();
  ctx.out(ok('sysconf regenCert', ' NTLS must be (re)started before clients can connect.'));
  return 0;
}

function ntlsShow({ h, out }: Ctx): number {
  out(`NTLS bound to network device: ${h.state.ntlsDevice}  IP Address: "127.0.0.1" (${h.state.ntlsDevice})\n${SUCCESS}`);
  return 0;
}

function packageList({ h, out }: Ctx): number {
  const rows = h.state.packages.map((p) => `${p.name.padEnd(42)}${p.version.padEnd(17)}${p.release}`);
  out(['Package Name                              Version          Release', '========================================  ===============  ========', ...rows, ''].join('\n') + SUCCESS);
  return 0;
}

const CLIENT = { client: 'value' } as const;

const TABLE: Record<string, Record<string, Spec>> = {
  hsm: {
    show: { name: 'hsm show', options: {}, changesState: false, run: hsmShow },
    login: { name: 'hsm login', options: {}, changesState: true, run: hsmLogin },
  },
  partition: {
    list: { name: 'partition list', options: {}, changesState: false, run: partitionList },
  },
  client: {
    list: { name: 'client list', options: {}, changesState: false, run: clientList },
    show: { name: 'client show', options: CLIENT, changesState: false, run: clientShow },
    fingerprint: { name: 'client fingerprint', options: CLIENT, changesState: false, run: clientFingerprint },
    register: { name: 'client register', options: { client: 'value', hostname: 'value', ip: 'value' }, changesState: true, run: clientRegister },
    assignPartition: { name: 'client assignPartition', options: { client: 'value', partition: 'value' }, changesState: true, run: (c) => partitionAccess(c, true) },
    revokePartition: { name: 'client revokePartition', options: { client: 'value', partition: 'value' }, changesState: true, run: (c) => partitionAccess(c, false) },
    delete: { name: 'client delete', options: { client: 'value', force: 'flag' }, changesState: true, run: clientDelete },
  },
  ntls: {
    show: { name: 'ntls show', options: {}, changesState: false, run: ntlsShow },
  },
  sysconf: {
    regenCert: { name: 'sysconf regenCert', options: { force: 'flag' }, changesState: true, run: regenCert },
  },
  package: {
    list: { name: 'package list', options: {}, changesState: false, run: packageList },
  },
};

/** lunash matches commands and options by unique prefix, case-insensitively; an exact match wins. */
function resolve<T>(token: string, table: Record<string, T>): [string, T] | 'ambiguous' | undefined {
  const t = token.toLowerCase();
  const keys = Object.keys(table);
  const exact = keys.find((k) => k.toLowerCase() === t);
  const matches = exact !== undefined ? [exact] : keys.filter((k) => k.toLowerCase().startsWith(t));
  if (matches.length > 1) return 'ambiguous';
  const key = matches[0];
  return key === undefined ? undefined : [key, table[key] as T];
}

function tokenize(line: string): string[] | undefined {
  if (/[;|&$`<>'\\\n]/.test(line)) return undefined;
  const tokens: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) tokens.push(m[1] ?? m[2] ?? '');
  return tokens.some((t) => t.includes('"')) ? undefined : tokens;
}

export function createLunashInterpreter(h: LunashHooks): Interpreter {
  return async (io) => {
    const out = (text: string): void => io.write(text);
    const scp = parseScpCommand(io.command);
    if (scp) {
      const upload = scp.mode === 't';
      countCommand(h.commands, upload ? 'scp upload' : 'scp download', upload);
      const home = homeOf(h.state, io.username);
      return upload ? scpSink(io, scp.target, home) : scpSource(io, scp.target, home);
    }
    const tokens = tokenize(io.command.trim());
    if (!tokens || tokens.length === 0) {
      h.commands.rejected++;
      out(syntax('Invalid command syntax.'));
      return 1;
    }
    const [groupToken = '', subToken, ...rest] = tokens;
    const group = resolve(groupToken, TABLE);
    if (group === undefined || group === 'ambiguous') {
      h.commands.rejected++;
      out(syntax(group === 'ambiguous' ? `Ambiguous command: ${groupToken}` : `Unknown command: ${groupToken}`));
      return 1;
    }
    const sub = subToken === undefined ? undefined : resolve(subToken, group[1]);
    if (sub === undefined || sub === 'ambiguous') {
      h.commands.rejected++;
      out(syntax(`Incomplete or unknown command: ${tokens.slice(0, 2).join(' ')}`));
      return 1;
    }
    const spec = sub[1];
    const opts: Options = {};
    for (let i = 0; i < rest.length; i++) {
      const t = rest[i] ?? '';
      const opt = t.startsWith('-') ? resolve(t.slice(1), spec.options) : undefined;
      if (opt === undefined || opt === 'ambiguous') {
        h.commands.rejected++;
        out(syntax(`Invalid option for '${spec.name}': ${t}`));
        return 1;
      }
      if (opt[1] === 'flag') opts[opt[0]] = true;
      else {
        const v = rest[++i];
        if (v === undefined || v.startsWith('-')) {
          h.commands.rejected++;
          out(syntax(`Option -${opt[0]} requires a value.`));
          return 1;
        }
        opts[opt[0]] = v;
      }
    }
    for (const [o, kind] of Object.entries(spec.options)) {
      if (kind === 'value' && opts[o] === undefined && !(spec.name === 'client register' && o !== 'client')) {
        h.commands.rejected++;
        out(syntax(`'${spec.name}' requires -${o}.`));
        return 1;
      }
    }
    countCommand(h.commands, spec.name, spec.changesState);
    const client = opts.client;
    if (typeof client === 'string') h.commands.byClient[client] = (h.commands.byClient[client] ?? 0) + 1;
    return spec.run({ io, opts, h, out });
  };
}
