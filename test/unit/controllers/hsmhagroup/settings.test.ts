/** Auto recovery and synchronisation settings: change only what differs and can be read; no tug of war. */
import { describe, expect, it } from 'vitest';
import type { HaGroupInfo } from '../../../../src/luna/index.js';
import { autoRecoveryMatches, clientHostKey, conflictingClaims, planIsEmpty, planSettings, type DesiredSettings } from '../../../../src/controllers/hsmhagroup/settings.js';

const desired: DesiredSettings = { retries: 10, intervalSeconds: 120, synchronize: true };
const group = (synchronization?: boolean): HaGroupInfo => ({ label: 'g', memberSerials: [], standbyMembers: [], members: [], cloningConflicts: [], ...(synchronization === undefined ? {} : { synchronization }) });
const none = { cloningConflict: false, clientWideConflict: false };

describe('planSettings', () => {
  it('sets retry count and interval when they differ (Luna ships with auto recovery off)', () => {
    const plan = planSettings({ maxRetries: 0, intervalSeconds: 60 }, group(true), desired, none);
    expect(plan).toEqual({ retries: 10, intervalSeconds: 120, unreadable: [] });
  });

  it('changes nothing that already matches', () => {
    const plan = planSettings({ maxRetries: 10, intervalSeconds: 120 }, group(true), desired, none);
    expect(planIsEmpty(plan)).toBe(true);
    expect(autoRecoveryMatches({ maxRetries: 10, intervalSeconds: 120 }, desired)).toBe(true);
  });

  it('only the differing one', () => {
    expect(planSettings({ maxRetries: 10, intervalSeconds: 60 }, group(true), desired, none)).toEqual({ intervalSeconds: 120, unreadable: [] });
  });

  it('does not "fix" what it cannot read, every pass', () => {
    const plan = planSettings({}, group(undefined), desired, none);
    expect(planIsEmpty(plan)).toBe(true);
    expect(plan.unreadable).toEqual(['auto recovery retry count', 'auto recovery poll interval', 'synchronization']);
  });

  it('sets synchronisation per spec, both ways', () => {
    expect(planSettings({ maxRetries: 10, intervalSeconds: 120 }, group(false), desired, none).synchronize).toBe(true);
    expect(planSettings({ maxRetries: 10, intervalSeconds: 120 }, group(true), { ...desired, synchronize: false }, none).synchronize).toBe(false);
  });

  it('does not enable synchronisation across a cloning-domain conflict, but may disable it', () => {
    const held = planSettings({ maxRetries: 10, intervalSeconds: 120 }, group(false), desired, { ...none, cloningConflict: true });
    expect(held.synchronize).toBeUndefined();
    expect(held.synchronizeHeld).toContain('cloning-domain conflict');
    expect(planSettings({ maxRetries: 10, intervalSeconds: 120 }, group(true), { ...desired, synchronize: false }, { ...none, cloningConflict: true }).synchronize).toBe(false);
  });

  it('leaves client-wide settings alone while groups on the host disagree', () => {
    const plan = planSettings({ maxRetries: 0, intervalSeconds: 60 }, group(true), desired, { ...none, clientWideConflict: true });
    expect(planIsEmpty(plan)).toBe(true);
  });
});

describe('conflictingClaims', () => {
  const claim = (key: string, host: string, retries = 10, intervalSeconds = 120) => ({ key, clientHost: clientHostKey(host, 22), retries, intervalSeconds });

  it('names other groups on the same client host (case-insensitive) with other values', () => {
    const self = claim('ns/a', 'luna.example');
    const others = [self, claim('ns/b', 'LUNA.example', 3), claim('ns/c', 'other.example', 3), claim('ns/d', 'luna.example'), claim('x/e', 'luna.example', 10, 60)];
    expect(conflictingClaims(self, others)).toEqual(['ns/b', 'x/e']);
  });

  it('port matters: another port is another client host', () => {
    expect(clientHostKey('h', 22)).not.toBe(clientHostKey('h', 2222));
  });
});
