/**
 * Typed facade over one Luna appliance's shell. Read-only calls are retried once on a dropped connection;
 * state-changing calls never are (whether they took effect is unknown) and are reported to `onCommand`
 * so callers and tests can prove that steady state issues none (invariant 6).
 */
import { parseCertificate, type CertificateFacts } from '../pki/index.js';
import { validFileName } from './args.js';
import type { CommandOutcome, LunaCommand } from './command.js';
import { ConfirmationRefusedError, LunaCommandError, UnexpectedPromptError } from './errors.js';
import * as lunash from './lunash.js';
import type { ClientIdentity } from './lunash.js';
import type { ClientInfo } from './parse/clients.js';
import { trailingPrompt } from './parse/dialog.js';
import { normalizeOutput } from './parse/output.js';
import type { HsmShow } from './parse/hsm.js';
import type { NtlsShow } from './parse/ntls.js';
import type { PackageList } from './parse/packages.js';
import type { PartitionInfo } from './parse/partitions.js';
import { scpReceive, scpSend } from './scp.js';
import type { SshChannel, SshEndpoint, SshPool } from './ssh-pool.js';
import { DeviceShell, type DeviceFacadeOptions } from './device-shell.js';

export type { DeviceCommandEvent, DeviceFacadeOptions } from './device-shell.js';

export interface ServerCertificate {
  pem: string;
  facts: CertificateFacts;
}

/** Empty answers to optional password prompts in one command (one per HA group); past this the input is closed. */
const MAX_SKIPPED_PROMPTS = 32;

/** Who may answer what while a command waits for input. Nothing is answered unless listed here. */
export interface DialogPolicy {
  /**
   * Confirmation words this call may answer, each once. Only the explicitly confirmed zeroize path passes
   * `['proceed']`; every other confirmation prompt is answered `quit`.
   */
  readonly affirm?: readonly string[];
  /** Sent at the first password prompt, after which input is closed (the zeroize path's deliberately wrong password). */
  readonly password?: string;
  /** Answer password prompts with an empty line (LunaCM 7.2/7.3 `hagroup listgroups`: synchronization data is optional). */
  readonly skipPasswordPrompts?: boolean;
}

export interface DialogTranscript {
  /** Everything the command printed (stdout, then stderr). */
  output: string;
  /** Normalised output printed after the password was sent; empty when it never was. */
  afterPassword: string;
  /** What was typed, in order: confirmation words, `quit`, `<password>`, `<empty>`. */
  answered: string[];
  /** The confirmation prompt answered `quit`. */
  refused?: string;
  /** A password prompt nobody may answer: input was closed instead. */
  unanswered?: string;
}

/**
 * Drives one exec channel through the prompts `trailingPrompt` recognises, under `policy`. A confirmation is quit
 * unless the policy affirms it; a password prompt is answered only as the policy says, otherwise input is closed.
 * Resolves when the channel closes.
 */
export function runDialog(ch: SshChannel, policy: DialogPolicy = {}): Promise<DialogTranscript> {
  return new Promise((resolve) => {
    let raw = '';
    let err = '';
    let consumed = 0;
    let passwordAt: number | undefined;
    let ended = false;
    const affirmed = new Set<string>();
    const t: Omit<DialogTranscript, 'output' | 'afterPassword'> = { answered: [] };
    const type = (text: string, last: boolean): void => {
      if (ended) return;
      if (last) {
        ended = true;
        ch.end(text);
      } else ch.write(text);
    };
    ch.on('data', (d: Buffer) => {
      raw += d.toString('utf8');
      if (ended) return;
      const text = normalizeOutput(raw);
      const prompt = trailingPrompt(text.slice(consumed));
      if (!prompt || prompt.kind === 'other') return;
      consumed = text.length;
      if (prompt.kind === 'confirmation') {
        if (policy.affirm?.includes(prompt.affirm) && !affirmed.has(prompt.affirm)) {
          affirmed.add(prompt.affirm);
          t.answered.push(prompt.affirm);
          type(`${prompt.affirm}\n`, false);
        } else {
          t.refused = prompt.text;
          t.answered.push('quit');
          type('quit\n', true);
        }
      } else if (policy.password !== undefined && passwordAt === undefined) {
        passwordAt = text.length;
        t.answered.push('<password>');
        type(`${policy.password}\n`, true);
      } else if (policy.skipPasswordPrompts === true && t.answered.filter((a) => a === '<empty>').length < MAX_SKIPPED_PROMPTS) {
        t.answered.push('<empty>');
        type('\n', false);
      } else {
        t.unanswered = prompt.text;
        type('', true);
      }
    });
    ch.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    ch.on('close', () => {
      const output = err ? `${raw}\n${err}` : raw;
      resolve({ ...t, output, afterPassword: passwordAt === undefined ? '' : normalizeOutput(raw).slice(passwordAt) });
    });
  });
}

/**
 * Runs a typed command on an exec channel driven by `runDialog`: like `DeviceShell.run` (same event, retry and
 * timeout rules), but a confirmation prompt is quit (ConfirmationRefusedError) and an unanswerable password prompt
 * has its input closed (UnexpectedPromptError) instead of waiting for input that never comes.
 */
export async function runInteractive<T>(pool: SshPool, ep: SshEndpoint, opts: DeviceFacadeOptions, cmd: LunaCommand<T>, policy: DialogPolicy = {}): Promise<T> {
  opts.onCommand?.({ tool: cmd.tool, host: ep.host, name: cmd.name, display: cmd.display, changesState: cmd.changesState });
  const { value } = await pool.withChannel(ep, cmd.line, (ch) => runDialog(ch, policy), {
    display: cmd.display,
    retryOnDrop: !cmd.changesState,
    ...(opts.commandTimeoutMs !== undefined ? { timeoutMs: opts.commandTimeoutMs } : {}),
  });
  if (value.refused !== undefined) throw new ConfirmationRefusedError(cmd.name, value.refused);
  if (value.unanswered !== undefined) throw new UnexpectedPromptError(cmd.name, value.unanswered);
  return cmd.parse(value.output);
}

export class Appliance extends DeviceShell {
  constructor(pool: SshPool, endpoint: SshEndpoint, opts: DeviceFacadeOptions = {}) {
    super(pool, endpoint, 'appliance-ssh', opts);
  }

  /** Every lunash command runs under `runDialog`: nothing here ever answers a confirmation with anything but `quit`. */
  override async run<T>(cmd: LunaCommand<T>): Promise<T> {
    return runInteractive(this.pool, this.ep, this.opts, cmd);
  }

  async show(): Promise<HsmShow> {
    return this.run(lunash.hsmShow());
  }

  /** Installed packages and `rebootPatchInstalled` (KB0019789, `lunasa-reboot-patch-3`). */
  async packages(): Promise<PackageList> {
    return this.run(lunash.packageList());
  }

  async partitions(): Promise<PartitionInfo[]> {
    return this.run(lunash.partitionList());
  }

  async ntls(): Promise<NtlsShow> {
    return this.run(lunash.ntlsShow());
  }

  async clients(): Promise<string[]> {
    return this.run(lunash.clientList());
  }

  /** The registered client, or undefined when the appliance does not know it. */
  async client(name: string): Promise<ClientInfo | undefined> {
    return notFoundAsUndefined(this.run(lunash.clientShow(name)));
  }

  /** The fingerprint the appliance holds for the client's certificate, or undefined when not registered. */
  async clientFingerprint(name: string): Promise<string | undefined> {
    return notFoundAsUndefined(this.run(lunash.clientFingerprint(name)));
  }

  /**
   * Registers a client. With `certPem`, the certificate is first uploaded as `<hostname|ip>.pem`, the name
   * `client register` looks for. A duplicate name fails with kind `already-exists`.
   */
  async registerClient(name: string, identity: ClientIdentity, certPem?: string): Promise<CommandOutcome> {
    const cmd = lunash.clientRegister(name, identity);
    if (certPem !== undefined) await this.uploadFile(lunash.clientCertFileName(identity), Buffer.from(certPem));
    return this.run(cmd);
  }

  /** `changed: false` when the client already had access. */
  async assignPartition(client: string, partition: string): Promise<CommandOutcome> {
    return this.run(lunash.clientAssignPartition(client, partition));
  }

  /** `changed: false` when the partition was not assigned. */
  async revokePartition(client: string, partition: string): Promise<CommandOutcome> {
    return this.run(lunash.clientRevokePartition(client, partition));
  }

  /** `changed: false` when no such client exists. */
  async deleteClient(name: string): Promise<CommandOutcome> {
    return this.run(lunash.clientDelete(name));
  }

  /** scp into the user's home directory (state-changing). */
  async uploadFile(name: string, data: Buffer | string): Promise<void> {
    const file = validFileName(name);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    this.opts.onCommand?.({ tool: 'lunash', host: this.ep.host, name: 'scp upload', display: `scp -t ${file}`, changesState: true });
    await this.pool.withChannel(this.ep, `scp -t ${file}`, (ch) => scpSend(ch, file, bytes), { display: `scp -t ${file}` });
  }

  /** scp out of the user's home directory (read-only). */
  async downloadFile(name: string): Promise<Buffer> {
    const file = validFileName(name);
    this.opts.onCommand?.({ tool: 'lunash', host: this.ep.host, name: 'scp download', display: `scp -f ${file}`, changesState: false });
    const { value } = await this.pool.withChannel(this.ep, `scp -f ${file}`, (ch) => scpReceive(ch), { display: `scp -f ${file}`, retryOnDrop: true });
    return value.data;
  }

  /** The NTLS server certificate (`server.pem`), downloaded and parsed. */
  async serverCertificate(): Promise<ServerCertificate> {
    const pem = (await this.downloadFile('server.pem')).toString('utf8');
    return { pem, facts: parseCertificate(pem) };
  }
}

async function notFoundAsUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof LunaCommandError && e.kind === 'not-found') return undefined;
    throw e;
  }
}
