import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationRejectedError,
  CredentialRefusedError,
  HostKeyMismatchError,
  InvalidArgumentError,
  LunaCmHost,
  LunaCommandError,
  LunaRecognisedFailure,
  SshPool,
  type DeviceCommandEvent,
  type GuardedPassword,
} from '../../../src/luna/index.js';
import { startApplianceSimulator, startLunaCmSimulator, type ApplianceSimulator, type LunaCmSimulator } from '../../../src/sandbox/luna/index.js';
import { shellWords } from '../../../src/sandbox/luna/lunacm-host.js';
import { expectSoUntouched, lunacmEndpoint, rejectionOf } from './support.js';
import { waitFor } from '../../support/wait.js';

const WARNING = (a: number, b: number): string => `Warning: Synchronize may fail.  The members in slot ${a} and slot ${b} have conflicting settings for private key cloning.`;

describe('LunaCM host facade against the LunaCM simulator', () => {
  let hsm1: ApplianceSimulator;
  let hsm2: ApplianceSimulator;
  let cm: LunaCmSimulator;
  let pool: SshPool;
  let host: LunaCmHost;
  let events: DeviceCommandEvent[];
  const pw = (value: string, resourceVersion = '1'): GuardedPassword => ({ value, secret: { uid: 'group-pw-uid', resourceVersion, name: 'hsm-system/ha-password' } });

  afterEach(async () => {
    expectSoUntouched(hsm1);
    expectSoUntouched(hsm2);
    await pool.close();
    await cm.stop();
    await hsm1.stop();
    await hsm2.stop();
  });

  async function start(opts: { coPassword?: string; commandTimeoutMs?: number } = {}): Promise<{ s1: string; s2: string; s3: string }> {
    const coPassword = opts.coPassword ?? 'co-secret';
    hsm1 = await startApplianceSimulator({ hostname: 'hsm1', serial: '572413', partitions: [{ label: 'par0', serial: '154438865287', coPassword }] });
    hsm2 = await startApplianceSimulator({
      hostname: 'hsm2',
      serial: '572414',
      partitions: [
        { label: 'par0', serial: '1238700701509', coPassword },
        { label: 'par9', serial: '1238700701510', coPassword, cloningDomain: 'other-domain' },
      ],
    });
    cm = await startLunaCmSimulator({ appliances: [hsm1, hsm2], timeScale: 0.001 });
    pool = new SshPool();
    events = [];
    host = new LunaCmHost(pool, lunacmEndpoint(cm), { onCommand: (e) => events.push(e), ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}) });
    return { s1: '154438865287', s2: '1238700701509', s3: '1238700701510' };
  }

  it('creates a group (number = "1" + primary serial), adds a member, lists them alive; auto recovery off by default', async () => {
    const { s1, s2 } = await start();
    await host.createGroup('myHAgroup', s1, pw('co-secret'));
    expect((await host.addMember('myHAgroup', s2, pw('co-secret'))).warnings).toEqual([]);
    const list = await host.listGroups();
    expect(list.settings).toMatchObject({ autoRecoveryEnabled: false, maxRetries: 0, intervalSeconds: 60, recoveryMode: 'activeEnhanced' });
    expect(list.groups).toEqual([
      {
        label: 'myHAgroup',
        number: `1${s1}`,
        slotId: 5,
        synchronization: true,
        memberSerials: [s1, s2],
        needsSync: false,
        standbyMembers: [],
        members: [
          { serial: s1, label: 'par0', status: 'alive' },
          { serial: s2, label: 'par0', status: 'alive' },
        ],
        cloningConflicts: [],
      },
    ]);
    expect(cm.counters.passwordAttempts).toEqual({ success: 2, failure: 0 });
  });

  it('a member goes down with its appliance and stays down until recover (retry count 0)', async () => {
    const { s1, s2 } = await start();
    await host.createGroup('g', s1, pw('co-secret'));
    await host.addMember('g', s2, pw('co-secret'));
    await hsm2.controls.down();
    expect((await host.listGroups()).groups[0]?.members[1]).toEqual({ serial: s2, status: 'down' });
    expect(await rejectionOf(host.recover('g'))).toBeInstanceOf(LunaCommandError);
    await hsm2.controls.up();
    cm.controls.runAutoRecovery();
    expect((await host.listGroups()).groups[0]?.members[1]?.status).toBe('down');
    await host.recover('g');
    expect((await host.listGroups()).groups[0]?.members[1]).toEqual({ serial: s2, label: 'par0', status: 'alive' });
    expect(cm.counters.manualRecoveries).toBe(1);
    expect(cm.counters.autoRecoveries).toBe(0);
  });

  it('auto recovery brings a member back at the interval once the retry count is not 0', async () => {
    const { s1, s2 } = await start();
    await host.createGroup('g', s1, pw('co-secret'));
    await host.addMember('g', s2, pw('co-secret'));
    await host.setAutoRecoveryRetries(3);
    await host.setAutoRecoveryInterval(60);
    expect((await host.listGroups()).settings).toMatchObject({ autoRecoveryEnabled: true, maxRetries: 3 });
    await hsm2.controls.down();
    await waitFor('member down', () => cm.state.groups.get('g')?.members[1]?.status === 'down', 5_000, 10);
    await hsm2.controls.up();
    await waitFor('auto recovery', () => cm.state.groups.get('g')?.members[1]?.status === 'alive', 5_000, 10);
    expect((await host.listGroups()).groups[0]?.members[1]?.status).toBe('alive');
    expect(cm.counters.autoRecoveries).toBeGreaterThanOrEqual(1);
    expect(cm.counters.manualRecoveries).toBe(0);
  });

  it('prints the cloning-domain warning (exact text) when member domains differ', async () => {
    const { s1, s2, s3 } = await start();
    await host.createGroup('g', s1, pw('co-secret'));
    await host.addMember('g', s2, pw('co-secret'));
    expect((await host.addMember('g', s3, pw('co-secret'))).warnings).toEqual([WARNING(0, 2)]);
    expect((await host.listGroups()).groups[0]?.cloningConflicts).toEqual([{ slotA: 0, slotB: 2 }]);
    await host.removeMember('g', s3);
    expect((await host.listGroups()).groups[0]?.cloningConflicts).toEqual([]);
  });

  it('a wrong group password is sent once: one CO failure, then refused until the Secret changes', async () => {
    const { s1, s2 } = await start();
    const first = await rejectionOf(host.createGroup('g', s1, pw('wrong')));
    expect(first).toBeInstanceOf(AuthenticationRejectedError);
    expect((first as Error).message).toContain('CKR_PIN_INCORRECT');
    expect((first as Error).message).not.toContain('wrong');
    for (const attempt of [() => host.createGroup('g', s1, pw('wrong')), () => host.addMember('g', s2, pw('wrong'))]) {
      expect(await rejectionOf(attempt())).toBeInstanceOf(CredentialRefusedError);
    }
    expect(cm.counters.passwordAttempts.failure).toBe(1);
    expect(hsm1.state.partitions[0]?.coFailedLogins).toBe(1);
    expect(hsm2.state.partitions[0]?.coFailedLogins).toBe(0);
    expect(events.filter((e) => e.display.includes('wrong'))).toEqual([]);
    await host.createGroup('g', s1, pw('co-secret', '2'));
    expect(pool.guard.export()).toEqual([]);
    expect(hsm1.state.partitions[0]?.coFailedLogins).toBe(0);
  });

  it('the group password is typed at LunaCM\'s prompt, never on a command line: recorded lines and event displays never hold it', async () => {
    const secret = 'co-Secret-4711';
    const { s1, s2 } = await start({ coPassword: secret });
    await host.createGroup('g', s1, pw(secret));
    await host.addMember('g', s2, pw(secret));
    expect(cm.counters.groupPassword).toEqual({ prompted: 2, answered: 2, unanswered: 0, onCommandLine: 0 });
    expect(cm.counters.passwordAttempts).toEqual({ success: 2, failure: 0 });
    // What the client host's process list and audit log show: the command lines as sshd's shell received them.
    expect(cm.counters.commandLines).toContain(`lunacm -q hagroup creategroup -label g -serialnumber ${s1}`);
    expect(cm.counters.commandLines).toContain(`lunacm -q hagroup addmember -group g -serialnumber ${s2}`);
    for (const line of cm.counters.commandLines) {
      expect(line).not.toContain(secret);
      expect(line).not.toMatch(/-password/i);
    }
    // The argv a process listing would show, word by word (the simulator's own shell parser).
    for (const line of cm.counters.commandLines) expect(shellWords(line)?.some((w) => w.includes(secret))).toBe(false);
    expect(events.map((e) => e.display).join('\n')).not.toContain(secret);
  });

  it('the simulator refuses -password on the command line (so the test above can fail): nothing checked, no CO attempt spent', async () => {
    const { s1 } = await start();
    const out = await pool.exec(lunacmEndpoint(cm), `lunacm -q hagroup creategroup -label g -serialnumber ${s1} -password co-secret`);
    expect(out.stdout).toContain('the password was given on the command line');
    expect(out.exitCode).not.toBe(0);
    expect(cm.counters.groupPassword.onCommandLine).toBe(1);
    expect(cm.counters.passwordAttempts).toEqual({ success: 0, failure: 0 });
    expect(cm.state.groups.size).toBe(0);
  });

  it('input closed at the prompt is a missing password, not a CO attempt', async () => {
    const { s1 } = await start();
    const out = await pool.exec(lunacmEndpoint(cm), `lunacm -q hagroup creategroup -label g -serialnumber ${s1}`, { stdin: '' });
    expect(out.stdout).toContain('Enter the password:');
    expect(out.stdout).toContain('No password was entered.');
    expect(cm.counters.groupPassword).toMatchObject({ prompted: 1, answered: 0, unanswered: 1 });
    expect(cm.counters.passwordAttempts).toEqual({ success: 0, failure: 0 });
  });

  it('passwords with shell metacharacters are typed as they are; bad labels are refused before sending', async () => {
    const tricky = `it's; $(reboot) "x" \`id\` & | > *`;
    const { s1 } = await start({ coPassword: tricky });
    await host.createGroup('g', s1, pw(tricky));
    expect(cm.counters.passwordAttempts).toEqual({ success: 1, failure: 0 });
    const execs = cm.counters.ssh.execs;
    expect(await rejectionOf(host.recover('g; rm -rf /'))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejectionOf(host.addMember('g', '12 34', pw(tricky)))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejectionOf(host.addMember('g', s1, pw('line\nbreak')))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejectionOf(host.setAutoRecoveryRetries(501))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejectionOf(host.setAutoRecoveryInterval(59))).toBeInstanceOf(InvalidArgumentError);
    expect(cm.counters.ssh.execs).toBe(execs);
    expect(cm.counters.commands.rejected).toBe(0);
  });

  it('polling is read-only, and a changed LunaCM host key stops all traffic', async () => {
    const { s1 } = await start();
    await host.createGroup('g', s1, pw('co-secret'));
    const changing = cm.counters.commands.stateChanging;
    for (let i = 0; i < 3; i++) await host.listGroups();
    expect(cm.counters.commands.stateChanging).toBe(changing);
    expect(cm.counters.commands.byName['hagroup listgroups']).toBe(3);
    cm.controls.changeHostKey();
    expect(await rejectionOf(host.listGroups())).toBeInstanceOf(HostKeyMismatchError);
    const execs = cm.counters.ssh.execs;
    expect(await rejectionOf(host.recover('g'))).toBeInstanceOf(HostKeyMismatchError);
    expect(cm.counters.ssh.execs).toBe(execs);
  });

  it('LunaCM 7.2/7.3 listgroups: the optional sync-data password prompt is answered empty, never with the group password', async () => {
    const { s1, s2 } = await start({ commandTimeoutMs: 4_000 });
    await host.createGroup('g', s1, pw('co-secret'));
    await host.addMember('g', s2, pw('co-secret'));
    cm.controls.setListGroupsForm('sync-password-prompt');
    const attempts = { ...cm.counters.passwordAttempts };
    const list = await host.listGroups();
    expect(list.groups.map((g) => [g.label, g.members.map((m) => m.status)])).toEqual([['g', ['alive', 'alive']]]);
    expect(cm.counters.listGroupsPasswordAnswers).toEqual({ empty: 1, typed: 0, none: 0 });
    expect(cm.counters.passwordAttempts).toEqual(attempts);
  });

  it('answers LunaCM prints without an Error prefix are classified: already part of a group, label in use', async () => {
    const { s1, s2 } = await start();
    await host.createGroup('g', s1, pw('co-secret'));
    await host.addMember('g', s2, pw('co-secret'));
    const attempts = cm.counters.passwordAttempts.success + cm.counters.passwordAttempts.failure;
    const again = await rejectionOf(host.addMember('g', s2, pw('co-secret')));
    expect(again).toBeInstanceOf(LunaRecognisedFailure);
    expect(again).toMatchObject({ kind: 'already-exists', details: ['The member you specified is already part of an HA group.'] });
    const label = await rejectionOf(host.createGroup('g', s1, pw('co-secret')));
    expect(label).toBeInstanceOf(LunaCommandError);
    expect(label).toMatchObject({ kind: 'already-exists' });
    // Neither reached a Crypto Officer login.
    expect(cm.counters.passwordAttempts.success + cm.counters.passwordAttempts.failure).toBe(attempts);
  });
});
