/**
 * Scenario 6, credentials: a wrong password for every role the operator uses (appliance SSH, LunaCM SSH, the HA
 * group password) costs exactly one failed attempt each, across restarts (SIGKILL and a fresh process) and leader
 * changes (two operator processes with leader election), while re-syncs, drift checks and member polls keep asking.
 * Once the Secrets are fixed, everything converges on the first try. No zeroization and no lockout at any point: HSM
 * SO attempts left stay 3, no HSM SO login is ever tried, the partition that saw the wrong group password counts
 * one failed CO login (of the 10 before lockout). Metadata-only updates of a wrong Secret lift nothing: the guard
 * compares a keyed digest of the value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safetyViolations } from '../support/reliability-invariants.js';
import { condition } from '../support/reliability-kube.js';
import type { OperatorProcess } from '../support/reliability-process.js';
import { ReliabilityWorld } from '../support/reliability-world.js';

const LEASE = { name: 'hsm-operator-leader', leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };

let rw: ReliabilityWorld;
let serial2 = '';
const phases: { phase: string; applianceFailures: number; lunacmFailures: number; groupPasswordFailures: number }[] = [];

const failures = () => ({
  applianceFailures: rw.appliance('hsm1').counters.ssh.sshLogins.failure,
  lunacmFailures: rw.world.lunacm.counters.ssh.sshLogins.failure,
  groupPasswordFailures: rw.world.lunacm.counters.passwordAttempts.failure,
});

const candidate = (identity: string): Promise<OperatorProcess> => rw.spawn(identity, { leaderElection: { ...LEASE, identity } });

/** Asks every object to look again now (re-sync of the HSM; the groups and the binding poll every 5 s anyway). */
async function pokeAll(): Promise<void> {
  for (const name of rw.hsmNames) await rw.kube.patch('DedicatedHsm', name, { metadata: { annotations: { 'dedicatedhsm.io/resync-now': String(Date.now()) } } });
}

async function holdsAtOne(phase: string): Promise<void> {
  await pokeAll();
  // Two poll intervals of the groups and the binding's drift check (5 s each here), with the pokes in between.
  await new Promise((r) => setTimeout(r, 6_000));
  await pokeAll();
  await new Promise((r) => setTimeout(r, 5_000));
  const f = failures();
  phases.push({ phase, ...f });
  expect(f, phase).toEqual({ applianceFailures: 1, lunacmFailures: 1, groupPasswordFailures: 1 });
  expect(safetyViolations(rw.world, { allowedCoFailures: { [serial2]: 1 } }), phase).toEqual([]);
}

beforeAll(async () => {
  // Two partitions per HSM: ha-x groups the par0s, ha-y the par1s (a partition belongs to one HA group at most;
  // LunaCM refuses a second addmember with "already part of an HA group").
  rw = await ReliabilityWorld.start({ prefix: 'creds', hsms: 3, partitions: 2 });
  serial2 = rw.partitionSerial('hsm2', 'par1');
  // Right Secrets for hsm2, hsm3 and the group password of ha-x; wrong ones (planted too) for the rest.
  for (const name of ['hsm2', 'hsm3']) await rw.deployHsm(name);
  await rw.kube.secret('hsm1-appliance', { password: 'wrong-appliance-pw-7f3a9c' });
  rw.planted.push({ kind: 'appliance-password', secret: 'hsm1-appliance (wrong)', value: 'wrong-appliance-pw-7f3a9c' });
  await rw.kube.apply(rw.hsmManifest('hsm1'));
  const yMembers = [{ hsm: 'hsm2', partitionLabel: 'par1' }, { hsm: 'hsm3', partitionLabel: 'par1' }];
  await rw.groupSecrets([
    { index: 0, members: [{ hsm: 'hsm2' }, { hsm: 'hsm3' }] },
    { index: 1, members: yMembers },
  ]);
  await rw.kube.secret('lunacm-ssh-wrong', { password: 'wrong-lunacm-pw-2b8e1d' });
  await rw.kube.secret('ha-password-wrong', { password: 'wrong-group-pw-5c1f0a' });
  const members = [{ hsm: 'hsm2' }, { hsm: 'hsm3' }];
  const wrongClient = rw.haGroupManifest('ha-x', { label: 'haX', members, passwordSecret: 'ha-password-0' });
  (wrongClient.spec as { client: { credentialsRef: { name: string } } }).client.credentialsRef.name = 'lunacm-ssh-wrong';
  await rw.kube.apply(wrongClient);
  await rw.kube.apply(rw.haGroupManifest('ha-y', { label: 'haY', members: yMembers, passwordSecret: 'ha-password-wrong' }));
  // A binding on hsm1 too: the NTLS controller shares the appliance credential (and must share its guard).
  await rw.kube.apply(rw.bindingManifest('app-on-hsm1', { targets: [{ hsm: 'hsm1', partitions: ['par0'] }, { hsm: 'hsm2', partitions: ['par0'] }] }));
}, 60_000);

afterAll(async () => {
  process.stderr.write(`[reliability] credentials: ${JSON.stringify(phases)}\n`);
  await rw?.stop();
}, 60_000);

describe('wrong credentials cost exactly one attempt each', () => {
  let a: OperatorProcess;
  let b: OperatorProcess;

  it('each wrong password is tried once and its rejection recorded in status', async () => {
    a = await candidate('op-a');
    b = await candidate('op-b');
    await rw.kube.waitCondition('DedicatedHsm', 'hsm1', 'ApplianceReachable', { status: 'False', reason: 'CredentialRejected' }, 60_000);
    await rw.kube.waitCondition('HsmHaGroup', 'ha-x', 'MembersHealthy', { status: 'False', reason: 'CredentialRejected' }, 60_000);
    await rw.kube.waitCondition('HsmHaGroup', 'ha-y', 'MembersHealthy', { status: 'False', reason: 'CredentialRejected' }, 60_000);
    const hsm1 = await rw.kube.get('DedicatedHsm', 'hsm1');
    expect((hsm1.status?.credentialGuard as unknown[] | undefined)?.length).toBe(1);
    for (const g of ['ha-x', 'ha-y']) expect(((await rw.kube.get('HsmHaGroup', g)).status?.credentialGuard as unknown[] | undefined)?.length, g).toBe(1);
    expect(condition(hsm1, 'Ready')?.message ?? '').not.toContain('wrong-appliance-pw');
    await holdsAtOne('first process');
  }, 90_000);

  it('still one after the leader is killed and the standby takes over', async () => {
    await a.kill();
    await b.waitForLog((l) => l.msg === 'became leader', 20_000, 'became leader');
    await holdsAtOne('after SIGKILL and takeover');
  }, 60_000);

  it('still one after a clean leader change and after a restart of every process', async () => {
    a = await candidate('op-a2');
    await b.stop();
    await a.waitForLog((l) => l.msg === 'became leader', 20_000, 'became leader');
    await holdsAtOne('after SIGTERM and takeover');
    await a.kill();
    a = await rw.spawn('op-solo');
    await holdsAtOne('after a restart without leader election');
  }, 90_000);

  it('still one after metadata-only updates of each wrong Secret (labels, annotations, the same value re-applied)', async () => {
    // What External Secrets or Sealed Secrets do on every refresh: the resourceVersion moves, the value does not.
    for (const [i, name] of ['hsm1-appliance', 'lunacm-ssh-wrong', 'ha-password-wrong'].entries()) {
      for (let n = 0; n < 3; n++) {
        await rw.kube.patch('Secret', name, { metadata: { labels: { refreshed: `r${n}` }, annotations: { 'reconcile.external-secrets.io/data-hash': `h${i}-${n}` } } });
      }
    }
    await rw.kube.setSecret('hsm1-appliance', { password: 'wrong-appliance-pw-7f3a9c' });
    await holdsAtOne('after three metadata-only updates of each wrong Secret');
    const hsm1 = await rw.kube.get('DedicatedHsm', 'hsm1');
    const record = (hsm1.status?.credentialGuard as { valueDigest?: string }[] | undefined)?.[0];
    // The record names the rejected value by a keyed digest, never by the value.
    expect(record?.valueDigest).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  }, 60_000);

  it('fixed Secrets lift the guard: one success each, no further failures', async () => {
    const pw = rw.planted.find((p) => p.secret === 'hsm1-appliance')?.value ?? '';
    await rw.kube.setSecret('hsm1-appliance', { password: pw });
    await rw.kube.setSecret('lunacm-ssh-wrong', { password: rw.lunacmPassword });
    await rw.kube.setSecret('ha-password-wrong', { password: rw.groupPasswords[1] ?? '' });
    await rw.kube.waitReady('DedicatedHsm', 'hsm1', 60_000);
    await rw.kube.waitReady('HsmHaGroup', 'ha-x', 60_000);
    await rw.kube.waitReady('HsmHaGroup', 'ha-y', 60_000);
    await rw.kube.waitReady('NtlsClientBinding', 'app-on-hsm1', 60_000);
    expect(failures()).toEqual({ applianceFailures: 1, lunacmFailures: 1, groupPasswordFailures: 1 });
    // The rejected version's record leaves status once a newer version of the Secret worked.
    await rw.kube.waitObj('DedicatedHsm', 'hsm1', 'no credential guard record left', (o) => o.status?.credentialGuard === undefined, 15_000);
    for (const g of ['ha-x', 'ha-y']) await rw.kube.waitObj('HsmHaGroup', g, 'no credential guard record left', (o) => o.status?.credentialGuard === undefined, 15_000);
    expect(safetyViolations(rw.world, { allowedCoFailures: { [serial2]: 1 } })).toEqual([]);
  }, 90_000);

  it("a wrong password is rejected even while another object's session with the right one is open", async () => {
    // ha-x and ha-y are connected to the LunaCM host with the right password now. A third group brings a wrong one
    // for the same host and user: it must be tried (and rejected), not ride on the others' authenticated session.
    await rw.kube.secret('lunacm-ssh-other', { password: 'wrong-lunacm-pw-9d4e2a' });
    rw.planted.push({ kind: 'lunacm-password', secret: 'lunacm-ssh-other (wrong)', value: 'wrong-lunacm-pw-9d4e2a' });
    const m = rw.haGroupManifest('ha-z', { label: 'haZ', members: [{ hsm: 'hsm2' }, { hsm: 'hsm3' }], passwordSecret: 'ha-password-0' });
    (m.spec as { client: { credentialsRef: { name: string } } }).client.credentialsRef.name = 'lunacm-ssh-other';
    await rw.kube.apply(m);
    await rw.kube.waitCondition('HsmHaGroup', 'ha-z', 'MembersHealthy', { status: 'False', reason: 'CredentialRejected' }, 30_000);
    expect(rw.world.lunacm.state.groups.has('haZ')).toBe(false);
    expect(rw.world.lunacm.counters.ssh.sshLogins.failure).toBe(2);
    await a.stop();
  }, 60_000);
});
