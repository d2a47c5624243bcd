/**
 * What the two device facades (the appliance's lunash and the LunaCM client host) share: one SSH endpoint in the
 * pool, and running a typed command on it (read-only commands may be retried on a dropped connection; commands
 * that change state never are). Every command runs under `runDialog`: a confirmation prompt is answered `quit`
 * (ConfirmationRefusedError) and a password prompt nobody may answer has its input closed (UnexpectedPromptError),
 * instead of waiting for input that never comes. Only the confirmed zeroize path affirms anything.
 */
import { throwIfAborted } from './abort.js';
import type { LunaCommand } from './command.js';
import { ConfirmationRefusedError, UnexpectedPromptError } from './errors.js';
import type { GuardRole } from './guard.js';
import { trailingPrompt } from './parse/dialog.js';
import { normalizeOutput } from './parse/output.js';
import type { SshChannel, SshEndpoint, SshPool } from './ssh-pool.js';

export interface DeviceCommandEvent {
  tool: 'lunash' | 'lunacm';
  host: string;
  name: string;
  /** Redacted command line. */
  display: string;
  changesState: boolean;
}

export interface DeviceFacadeOptions {
  commandTimeoutMs?: number;
  onCommand?: (e: DeviceCommandEvent) => void;
  /**
   * Every command of the facade honours it: once aborted, no further command is sent (DeviceAbortedError), and a
   * command in flight has its channel closed as on a timeout. A reconcile passes its `rc.signal`.
   */
  signal?: AbortSignal;
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
  /**
   * Sent at the first password prompt, once. Input is then closed (the zeroize path's deliberately wrong password),
   * unless `keepInputAfterPassword`: then a confirmation after it is still answered `quit`, and a second password
   * prompt (a re-prompt: the value was not taken) closes input unanswered, so the value is never typed twice.
   */
  readonly password?: string;
  /** LunaCM's group password: keep input open after it (see `password`). */
  readonly keepInputAfterPassword?: boolean;
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
        type(`${policy.password}\n`, policy.keepInputAfterPassword !== true);
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

export abstract class DeviceShell {
  protected readonly pool: SshPool;
  protected readonly ep: SshEndpoint;
  protected readonly opts: DeviceFacadeOptions;

  protected constructor(pool: SshPool, endpoint: SshEndpoint, defaultRole: Extract<GuardRole, 'appliance-ssh' | 'lunacm-ssh'>, opts: DeviceFacadeOptions) {
    this.pool = pool;
    this.ep = { ...endpoint, role: endpoint.role ?? defaultRole };
    this.opts = opts;
  }

  get host(): string {
    return this.ep.host;
  }

  /** The pool options every command of this facade carries: its timeout and its signal. */
  protected execOptions(): { timeoutMs?: number; signal?: AbortSignal } {
    return {
      ...(this.opts.commandTimeoutMs !== undefined ? { timeoutMs: this.opts.commandTimeoutMs } : {}),
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
    };
  }

  /** Only the signal (scp transfers keep the pool's own timeout). */
  protected signalOption(): { signal?: AbortSignal } {
    return this.opts.signal ? { signal: this.opts.signal } : {};
  }

  /** What a command may answer while it waits for input; nothing by default. */
  protected dialogPolicy(_cmd: LunaCommand<unknown>): DialogPolicy {
    return {};
  }

  /** Runs a command built by lunash.ts or lunacm.ts under `runDialog` and returns its parsed result. */
  async run<T>(cmd: LunaCommand<T>): Promise<T> {
    return this.runWith(cmd, this.dialogPolicy(cmd));
  }

  /** `run` under an explicit dialog policy (a facade that types a password at the command's prompt). */
  protected async runWith<T>(cmd: LunaCommand<T>, policy: DialogPolicy): Promise<T> {
    throwIfAborted(this.opts.signal, this.ep.host, cmd.display);
    this.opts.onCommand?.({ tool: cmd.tool, host: this.ep.host, name: cmd.name, display: cmd.display, changesState: cmd.changesState });
    const { value } = await this.pool.withChannel(this.ep, cmd.line, (ch) => runDialog(ch, policy), {
      display: cmd.display,
      retryOnDrop: !cmd.changesState,
      ...this.execOptions(),
    });
    if (value.refused !== undefined) throw new ConfirmationRefusedError(cmd.name, value.refused);
    if (value.unanswered !== undefined) throw new UnexpectedPromptError(cmd.name, value.unanswered);
    return cmd.parse(value.output);
  }
}
