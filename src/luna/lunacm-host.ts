/**
 * Typed facade over LunaCM on the client host that manages HA groups. The group (partition CO) password
 * goes through the credential guard as role `hagroup-password`: a rejected password version is sent once. It is typed
 * at LunaCM's own prompt over the SSH channel, never put on a command line (the process list and audit log of the
 * client host would show it).
 */
import type { LunaCommand } from './command.js';
import { DeviceShell, type DeviceFacadeOptions, type DialogPolicy } from './device-shell.js';
import type { LunaCmOps } from './device-plane.js';
import { AuthenticationRejectedError, LunaCommandError, UnexpectedPromptError } from './errors.js';
import { guardHostOf, type SecretVersion } from './guard.js';
import * as lunacm from './lunacm.js';
import type { LunaCmOutcome, PromptedCommand } from './lunacm.js';
import type { HaGroupList } from './parse/hagroup.js';
import type { SshEndpoint, SshPool } from './ssh-pool.js';

/** A password value and the Secret version it came from. */
export interface GuardedPassword {
  value: string;
  secret: SecretVersion;
}

export class LunaCmHost extends DeviceShell implements LunaCmOps {
  constructor(pool: SshPool, endpoint: SshEndpoint, opts: DeviceFacadeOptions = {}) {
    super(pool, endpoint, 'lunacm-ssh', opts);
  }

  /**
   * Only `hagroup listgroups` answers a password prompt, with an empty line (LunaCM 7.2/7.3 ask for the group password
   * to show synchronization data; it is optional, and the group password is never typed for a read).
   */
  protected override dialogPolicy(cmd: LunaCommand<unknown>): DialogPolicy {
    return cmd.name === 'hagroup listgroups' ? { skipPasswordPrompts: true } : {};
  }

  async listGroups(): Promise<HaGroupList> {
    return this.run(lunacm.hagroupListGroups());
  }

  async createGroup(label: string, serial: string, password: GuardedPassword): Promise<LunaCmOutcome> {
    return this.#withPassword(password, (pw) => lunacm.hagroupCreateGroup(label, serial, pw));
  }

  async addMember(group: string, serial: string, password: GuardedPassword): Promise<LunaCmOutcome> {
    return this.#withPassword(password, (pw) => lunacm.hagroupAddMember(group, serial, pw));
  }

  async removeMember(group: string, serial: string): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupRemoveMember(group, serial));
  }

  async deleteGroup(label: string): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupDeleteGroup(label));
  }

  async recover(group: string): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupRecover(group));
  }

  /** `hagroup retry -count`: 0 disables auto recovery, -1 unlimited. */
  async setAutoRecoveryRetries(count: number): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupRetry(count));
  }

  async setAutoRecoveryInterval(seconds: number): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupInterval(seconds));
  }

  async synchronize(group: string, enable: boolean): Promise<LunaCmOutcome> {
    return this.run(lunacm.hagroupSynchronize(group, enable));
  }

  async #withPassword(password: GuardedPassword, build: (pw: string) => PromptedCommand<LunaCmOutcome>): Promise<LunaCmOutcome> {
    // Built first so an invalid argument is refused before the guard or the network sees anything.
    const { command, password: typed } = build(password.value);
    const host = guardHostOf(this.ep.host, this.ep.port ?? 22);
    return this.pool.guard.attempt({ host, role: 'hagroup-password', secret: password.secret }, async () => {
      try {
        return await this.runWith(command, { password: typed, keepInputAfterPassword: true });
      } catch (e) {
        if (e instanceof LunaCommandError && (e.kind === 'credential-rejected' || e.kind === 'locked')) {
          throw new AuthenticationRejectedError(host, 'hagroup-password', password.secret.name, e.message);
        }
        // Asked for the password again after it was typed: LunaCM did not take it. Counted as a rejection, so the
        // same value is not typed again.
        if (e instanceof UnexpectedPromptError) throw new AuthenticationRejectedError(host, 'hagroup-password', password.secret.name, `LunaCM asked for the password again (${e.message})`);
        throw e;
      }
    });
  }
}
