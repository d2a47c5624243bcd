/**
 * What the two device facades (the appliance's lunash and the LunaCM client host) share: one SSH endpoint in the
 * pool, and running a typed command on it (read-only commands may be retried on a dropped connection; commands
 * that change state never are).
 */
import type { LunaCommand } from './command.js';
import type { GuardRole } from './guard.js';
import type { SshEndpoint, SshPool } from './ssh-pool.js';

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

  /** Runs a command built by lunash.ts or lunacm.ts and returns its parsed result. */
  async run<T>(cmd: LunaCommand<T>): Promise<T> {
    this.opts.onCommand?.({ tool: cmd.tool, host: this.ep.host, name: cmd.name, display: cmd.display, changesState: cmd.changesState });
    const res = await this.pool.exec(this.ep, cmd.line, {
      display: cmd.display,
      retryOnDrop: !cmd.changesState,
      ...(this.opts.commandTimeoutMs !== undefined ? { timeoutMs: this.opts.commandTimeoutMs } : {}),
    });
    return cmd.parse(res.stderr ? `${res.stdout}\n${res.stderr}` : res.stdout);
  }
}
