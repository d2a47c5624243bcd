/** `hagroup listgroups` -> status members and cloning conflicts, and the conditions built from them. */
import { describe, expect, it } from 'vitest';
import { parseHaGroupList } from '../../../../src/luna/index.js';
import { groupConditions, type Observation } from '../../../../src/controllers/hsmhagroup/conditions.js';
import { cloningConflicts, conflictsFromOutput, findGroup, memberStatuses } from '../../../../src/controllers/hsmhagroup/health.js';
import type { DeclaredMember } from '../../../../src/controllers/hsmhagroup/members.js';

const S1 = '154438865287';
const S2 = '1238700701509';

/** The layout of the Luna documentation (reference/luna-shell.md), member 2 down. */
const LISTGROUPS = `
                  HA auto recovery:  disabled
                  HA recovery mode:  activeEnhanced
       Maximum auto recovery retry:  0
       Auto recovery poll interval:  60 seconds
                        HA logging:  disabled
                Only Show HA Slots:  yes

             HA Group Label:  myHAgroup
            HA Group Number:  1${S1}
           HA Group Slot ID:  5
           Synchronization:  enabled
              Group Members:  ${S1}, ${S2}
                 Needs sync:  no
            Standby Members:  <none>

    Slot #    Member S/N                      Member Label    Status
    ======    ==========                      ============    ======
    ------  ${S1}                              par0     alive
    ------  ${S2}                      ------------      down

Command Result : No Error
`;

const WARNING = 'Warning: Synchronize may fail.  The members in slot 0 and slot 1 have conflicting settings for private key cloning.';

const declared: DeclaredMember[] = [
  { index: 0, hsm: 'hsm1', serial: S1, label: 'par0' },
  { index: 1, hsm: 'hsm2', serial: S2, label: 'par0' },
];

describe('memberStatuses', () => {
  const list = parseHaGroupList(LISTGROUPS);
  const group = findGroup(list, 'myHAgroup');

  it('gives each declared member its LunaCM state, label (the declared one when LunaCM prints dashes) and HSM', () => {
    expect(memberStatuses(declared, group, undefined)).toEqual([
      { serial: S1, label: 'par0', dedicatedHsm: 'hsm1', state: 'alive' },
      { serial: S2, label: 'par0', dedicatedHsm: 'hsm2', state: 'down' },
    ]);
  });

  it('carries recovery counters over by serial', () => {
    const previous = [{ serial: S2, state: 'alive', recoveries: 2, failedRecoveries: 1, lastRecoveryAt: '2026-01-01T00:00:00.000Z' }];
    expect(memberStatuses(declared, group, previous)[1]).toEqual({ serial: S2, label: 'par0', dedicatedHsm: 'hsm2', state: 'down', recoveries: 2, failedRecoveries: 1, lastRecoveryAt: '2026-01-01T00:00:00.000Z' });
  });

  it('shows members nobody declared (until removed) and declared ones not in the group as unknown', () => {
    const out = memberStatuses([{ index: 0, hsm: 'hsm1', serial: S1 }, { index: 1, hsm: 'hsm3', label: 'par9' }], group, undefined);
    expect(out).toEqual([
      { serial: S1, label: 'par0', dedicatedHsm: 'hsm1', state: 'alive' },
      { label: 'par9', dedicatedHsm: 'hsm3', state: 'unknown' },
      { serial: S2, state: 'down' },
    ]);
  });

  it('reports standby members as standby', () => {
    const standby = parseHaGroupList(LISTGROUPS.replace('Standby Members:  <none>', `Standby Members:  ${S2}`).replace('------      down', 'par0     alive'));
    expect(memberStatuses(declared, findGroup(standby, 'myHAgroup'), undefined)[1]?.state).toBe('standby');
  });
});

describe('cloningConflicts', () => {
  it('names the slots of the listing warning by serial', () => {
    const list = parseHaGroupList(LISTGROUPS.replace('Command Result', `${WARNING}\n\nCommand Result`));
    expect(cloningConflicts(list, findGroup(list, 'myHAgroup'), [])).toEqual([{ slotA: 0, slotB: 1, serialA: S1, serialB: S2 }]);
  });

  it('maps command warnings through the layout the command saw, and re-slots them in the current table', () => {
    // addmember of S3 printed the warning about slots 0 and 2 of [S1, S2, S3]; S2 was removed afterwards.
    const seen = conflictsFromOutput([WARNING.replace('slot 1', 'slot 2')], [S1, S2, '777777']);
    expect(seen).toEqual([{ slotA: 0, slotB: 2, serialA: S1, serialB: '777777' }]);
    const now = parseHaGroupList(LISTGROUPS.replace(`${S1}, ${S2}`, `${S1}, 777777`).replace(`------  ${S2}`, '------  777777'));
    expect(cloningConflicts(now, findGroup(now, 'myHAgroup'), seen)).toEqual([{ slotA: 0, slotB: 1, serialA: S1, serialB: '777777' }]);
    // Once a member of the pair is gone, the conflict is gone.
    const fixed = parseHaGroupList(LISTGROUPS);
    expect(cloningConflicts(fixed, findGroup(fixed, 'myHAgroup'), seen)).toEqual([]);
  });
});

describe('groupConditions', () => {
  const list = parseHaGroupList(LISTGROUPS);
  const group = findGroup(list, 'myHAgroup');
  const base = (o: Partial<Observation> = {}): Observation => ({
    mode: 'manage',
    label: 'myHAgroup',
    clientHost: 'luna-client',
    ...(group ? { group } : {}),
    settings: list.settings,
    members: memberStatuses(declared, group, undefined),
    waiting: [],
    pending: [],
    down: [{ serial: S2, applianceReachable: true }],
    breaker: { open: false, failures: 0 },
    operatorRecovery: true,
    window: '1h',
    desired: { retries: 0, intervalSeconds: 60, synchronize: true },
    settingsConflicts: [],
    settingsUnreadable: [],
    cloning: [],
    ...o,
  });
  const cond = (o: Observation, type: string) => groupConditions(o).find((c) => c.type === type);

  it('a down member on a reachable appliance: MemberDown, recovery scheduled', () => {
    const c = cond(base(), 'MembersHealthy');
    expect(c).toMatchObject({ status: 'False', reason: 'MemberDown' });
    expect(c?.message).toContain(`member ${S2} (partition par0 on DedicatedHsm hsm2) is down`);
    expect(c?.message).toContain('hagroup recover runs within the rate limit');
  });

  it('a down member whose appliance is down: reported as such, not recovered', () => {
    const c = cond(base({ down: [{ serial: S2, applianceReachable: false, reachMessage: 'TCP connect failed: ECONNREFUSED' }] }), 'MembersHealthy');
    expect(c?.message).toContain('its appliance is unreachable (TCP connect failed: ECONNREFUSED), so it is not recovered until the appliance answers again');
  });

  it('an open circuit asks a human and names the annotation', () => {
    const c = cond(base({ breaker: { open: true, failures: 3 } }), 'MembersHealthy');
    expect(c).toMatchObject({ status: 'False', reason: 'RecoveryCircuitOpen' });
    expect(c?.message).toContain('3 hagroup recover attempts failed within 1h');
    expect(c?.message).toContain('dedicatedhsm.io/recover-now');
  });

  it('all alive: Healthy, Consistent, Configured', () => {
    const healthy = memberStatuses(declared, group, undefined).map((m) => ({ ...m, state: 'alive' }));
    const all = groupConditions(base({ members: healthy, down: [] }));
    expect(all.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['MembersHealthy', 'True', 'Healthy'],
      ['CloningDomainConsistent', 'True', 'Consistent'],
      ['AutoRecoveryConfigured', 'True', 'Configured'],
    ]);
  });

  it('a cloning conflict names both members and gives the documented fix', () => {
    const c = cond(base({ cloning: [{ slotA: 0, slotB: 1, serialA: S1, serialB: S2 }] }), 'CloningDomainConsistent');
    expect(c).toMatchObject({ status: 'False', reason: 'CloningDomainMismatch' });
    expect(c?.message).toContain(`slot 0 (member ${S1} (partition par0 on DedicatedHsm hsm1)) and slot 1 (member ${S2} (partition par0 on DedicatedHsm hsm2))`);
    expect(c?.message).toContain('add it to the group (add it to spec.members), then remove the incorrectly configured partition');
  });

  it('auto recovery settings: mismatch, conflict between groups, unreadable', () => {
    expect(cond(base({ desired: { retries: 10, intervalSeconds: 60, synchronize: true } }), 'AutoRecoveryConfigured')).toMatchObject({ status: 'False', reason: 'ConfiguringGroup' });
    expect(cond(base({ settingsConflicts: ['ns/other'] }), 'AutoRecoveryConfigured')).toMatchObject({ status: 'False', reason: 'RecoverySettingsConflict' });
    expect(cond(base({ settingsUnreadable: ['auto recovery retry count'] }), 'AutoRecoveryConfigured')).toMatchObject({ status: 'Unknown', reason: 'Pending' });
  });

  it('a client host problem fails MembersHealthy and leaves the cloning condition as it was', () => {
    const all = groupConditions(base({ clientProblem: { reason: 'HostKeyMismatch', message: 'host key changed' } }));
    expect(all.map((c) => [c.type, c.reason])).toEqual([
      ['MembersHealthy', 'HostKeyMismatch'],
      ['AutoRecoveryConfigured', 'HostKeyMismatch'],
    ]);
  });

  it('a rejected group password is CredentialRejected', () => {
    expect(cond(base({ shapeProblem: { reason: 'CredentialRejected', message: 'rejected' } }), 'MembersHealthy')?.reason).toBe('CredentialRejected');
  });

  it('messages carry nothing that changes from pass to pass', () => {
    expect(groupConditions(base())).toEqual(groupConditions(base()));
    for (const c of groupConditions(base({ breaker: { open: true, failures: 3, closesAt: new Date() } }))) expect(c.message).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
  });
});
