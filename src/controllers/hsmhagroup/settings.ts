/**
 * Auto recovery and synchronisation settings: what `hagroup listgroups` shows against what the spec asks, and the
 * commands that close the gap. Only what differs is changed, and only what can be read is compared (a value the
 * listing does not show is reported, never "fixed" blindly every pass). Pure.
 *
 * `hagroup retry` and `hagroup interval` are settings of the LunaCM client, not of one group: two HsmHaGroups on the
 * same client host that ask for different values would undo each other every poll, so neither is applied then.
 */
import type { HaGroupInfo, HaRecoverySettings } from '../../luna/index.js';

export interface DesiredSettings {
  /** `hagroup retry -count`: 0 disables auto recovery, -1 is unlimited. */
  retries: number;
  /** `hagroup interval -interval`, seconds. */
  intervalSeconds: number;
  synchronize: boolean;
}

export interface SettingsPlan {
  retries?: number;
  intervalSeconds?: number;
  synchronize?: boolean;
  /** Settings the listing did not show, so they could not be compared. */
  unreadable: string[];
  /** Why synchronisation was left as it is although the spec asks otherwise. */
  synchronizeHeld?: string;
}

export function planSettings(current: HaRecoverySettings, group: HaGroupInfo | undefined, desired: DesiredSettings, opts: { cloningConflict: boolean; clientWideConflict: boolean }): SettingsPlan {
  const plan: SettingsPlan = { unreadable: [] };
  if (!opts.clientWideConflict) {
    if (current.maxRetries === undefined) plan.unreadable.push('auto recovery retry count');
    else if (current.maxRetries !== desired.retries) plan.retries = desired.retries;
    if (current.intervalSeconds === undefined) plan.unreadable.push('auto recovery poll interval');
    else if (current.intervalSeconds !== desired.intervalSeconds) plan.intervalSeconds = desired.intervalSeconds;
  }
  if (group) {
    if (group.synchronization === undefined) plan.unreadable.push('synchronization');
    else if (group.synchronization !== desired.synchronize) {
      // Enabling synchronisation between members with conflicting cloning settings is what the guide warns fails;
      // running it every pass would be a sync loop. Disabling is always safe.
      if (desired.synchronize && opts.cloningConflict) plan.synchronizeHeld = 'synchronization stays disabled until the cloning-domain conflict is fixed';
      else plan.synchronize = desired.synchronize;
    }
  }
  return plan;
}

export function planIsEmpty(plan: SettingsPlan): boolean {
  return plan.retries === undefined && plan.intervalSeconds === undefined && plan.synchronize === undefined;
}

/** Whether the client-wide settings match the spec (what AutoRecoveryConfigured reports). */
export function autoRecoveryMatches(current: HaRecoverySettings, desired: DesiredSettings): boolean {
  return current.maxRetries === desired.retries && current.intervalSeconds === desired.intervalSeconds;
}

/** A group as far as client-wide settings go. */
export interface SettingsClaim {
  /** namespace/name */
  key: string;
  /** The client host as declared (host:port, lower case). */
  clientHost: string;
  retries: number;
  intervalSeconds: number;
}

export function clientHostKey(host: string, port: number): string {
  return `${host.toLowerCase()}:${port}`;
}

/** The other groups on the same client host that ask for different client-wide settings, by key, sorted. */
export function conflictingClaims(self: SettingsClaim, others: readonly SettingsClaim[]): string[] {
  return others
    .filter((o) => o.key !== self.key && o.clientHost === self.clientHost && (o.retries !== self.retries || o.intervalSeconds !== self.intervalSeconds))
    .map((o) => o.key)
    .sort();
}

export function describeRetries(n: number): string {
  return n === -1 ? 'unlimited' : n === 0 ? '0 (auto recovery disabled)' : String(n);
}
