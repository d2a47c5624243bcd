/**
 * Scenario 5, device trouble, against the appliance and LunaCM simulators: SSH connections dropped in the middle of
 * state-changing commands (nothing done twice), an appliance down for a while (reported, then recovered, the HA
 * member recovered once), latency spikes (slow, not broken), a changed SSH host key (all device traffic to that host
 * stops and HostKeyMismatch says so, until the spec pins the new key), and a regenerated NTLS server certificate (the
 * binding notices, hands out the new server.pem and is in sync again).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/operator.js';
import { parseCertificate } from '../../src/pki/index.js';
import { safetyViolations } from '../support/reliability-invariants.js';
import { condition, isReady } from '../support/reliability-kube.js';
import { ReliabilityWorld } from '../support/reliability-world.js';
import { waitFor } from '../support/wait.js';

let rw: ReliabilityWorld;
let op: Operator;
const findings: Record<string, unknown> = {};

const resync = (name: string) => rw.kube.patch('DedicatedHsm', name, { metadata: { annotations: { 'dedicatedhsm.io/resync-now': String(Date.now()) } } });

beforeAll(async () => {
  rw = await ReliabilityWorld.start({ prefix: 'device', hsms: 3, lunacmTimeScale: 0.01 });
  op = await rw.startInProcess();
  for (const name of rw.hsmNames) await rw.deployHsm(name);
  await rw.groupSecrets([{ index: 0, members: [{ hsm: 'hsm1' }, { hsm: 'hsm2' }] }]);
  await rw.kube.apply(rw.haGroupManifest('ha', { label: 'haDev', members: [{ hsm: 'hsm1' }, { hsm: 'hsm2' }], passwordSecret: 'ha-password-0' }));
  await rw.kube.waitAllReady([...rw.hsmNames.map((name) => ({ kind: 'DedicatedHsm' as const, name })), { kind: 'HsmHaGroup', name: 'ha' }], 60_000);
}, 90_000);

afterAll(async () => {
  process.stderr.write(`[reliability] device: ${JSON.stringify(findings)}\n`);
  await rw?.stop();
}, 60_000);

describe('device trouble', () => {
  it('connections dropped in the middle of commands: the binding converges and no command that took effect is sent again', async () => {
    const sim = rw.appliance('hsm1');
    // The next six commands on hsm1 lose their connection after the first bytes of output (the command ran).
    for (let i = 0; i < 6; i++) sim.controls.dropNextCommand(i % 2 === 0 ? 'mid' : 'before');
    await rw.kube.apply(rw.bindingManifest('app-drop', { targets: [{ hsm: 'hsm1', partitions: ['par0'] }] }));
    await rw.kube.waitReady('NtlsClientBinding', 'app-drop', 60_000);
    const c = sim.counters.commands.byName;
    findings.drops = { register: c['client register'], assign: c['client assignPartition'], connections: sim.counters.ssh.connections };
    expect(sim.state.clients.get('app-drop')?.partitions).toEqual(['par0']);
    // A register or assign that ran but lost its answer is read back (client show), not repeated.
    expect(c['client register']).toBe(1);
    expect(c['client assignPartition']).toBe(1);
  }, 90_000);

  it('an appliance down for a while is reported, and recovered from when it is back (its HA member recovered once)', async () => {
    const sim = rw.appliance('hsm2');
    await sim.controls.down();
    await resync('hsm2');
    await rw.kube.waitCondition('DedicatedHsm', 'hsm2', 'ApplianceReachable', { status: 'False', reason: 'ApplianceUnreachable' }, 30_000);
    await rw.kube.waitCondition('HsmHaGroup', 'ha', 'MembersHealthy', { status: 'False' }, 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    await sim.controls.up();
    await resync('hsm2');
    await rw.kube.waitReady('DedicatedHsm', 'hsm2', 60_000);
    await rw.kube.waitReady('HsmHaGroup', 'ha', 60_000);
    const recoveries = rw.world.lunacm.counters.manualRecoveries + rw.world.lunacm.counters.autoRecoveries;
    findings.down = { recoverCommands: rw.world.lunacm.counters.commands.byName['hagroup recover'] ?? 0, recoveries };
    expect(recoveries).toBe(1);
  }, 90_000);

  it('latency spikes slow the device down but break nothing', async () => {
    const sim = rw.appliance('hsm3');
    sim.controls.setLatency(1_500);
    try {
      await rw.kube.apply(rw.bindingManifest('app-slow', { targets: [{ hsm: 'hsm3', partitions: ['par0'] }] }));
      await rw.kube.waitReady('NtlsClientBinding', 'app-slow', 90_000);
      await resync('hsm3');
      await rw.kube.waitReady('DedicatedHsm', 'hsm3', 30_000);
    } finally {
      sim.controls.setLatency(0);
    }
    expect(sim.counters.commands.byName['client register']).toBe(1);
    expect(sim.counters.commands.byName['client assignPartition']).toBe(1);
  }, 120_000);

  it('a changed host key stops all traffic to that appliance and says so, until the new key is pinned', async () => {
    const sim = rw.appliance('hsm3');
    const newKey = sim.controls.changeHostKey();
    await resync('hsm3');
    const hsm = await rw.kube.waitCondition('DedicatedHsm', 'hsm3', 'ApplianceReachable', { status: 'False', reason: 'HostKeyMismatch' }, 30_000);
    expect(condition(hsm, 'ApplianceReachable')?.message).toMatch(/host key/i);
    // From now on, nothing reaches the appliance: no connection, no command, whatever asks for it.
    const before = { connections: sim.counters.ssh.connections, execs: sim.counters.ssh.execs };
    await resync('hsm3');
    await rw.kube.patch('NtlsClientBinding', 'app-slow', { metadata: { annotations: { 'dedicatedhsm.io/repush-now': new Date().toISOString() } } });
    await new Promise((r) => setTimeout(r, 7_000));
    const after = { connections: sim.counters.ssh.connections, execs: sim.counters.ssh.execs };
    const binding = await rw.kube.get('NtlsClientBinding', 'app-slow');
    findings.hostKey = { before, after, binding: ['Registered', 'InSync', 'Ready'].map((t) => `${t}=${condition(binding, t)?.status}/${condition(binding, t)?.reason}: ${condition(binding, t)?.message}`) };
    expect(after).toEqual(before);
    // A human verifies and pins the new key: traffic resumes.
    await rw.kube.patch('DedicatedHsm', 'hsm3', { spec: { appliance: { hostKey: newKey } } });
    await rw.kube.waitReady('DedicatedHsm', 'hsm3', 30_000);
    await rw.kube.waitReady('NtlsClientBinding', 'app-slow', 30_000);
  }, 90_000);

  it('a regenerated NTLS server certificate: the binding hands out the new server.pem and is in sync again', async () => {
    const sim = rw.appliance('hsm1');
    const outputName = 'app-drop-ntls';
    const old = (await rw.kube.secretData(outputName))['hsm1.pem'];
    await sim.controls.regenCert();
    const fresh = sim.state.serverCert.certPem;
    expect(fresh).not.toBe(old);
    await waitFor('the output Secret carries the new server.pem', async () => (await rw.kube.secretData(outputName))['hsm1.pem']?.trim() === fresh.trim(), 30_000, 250);
    const b = await rw.kube.waitReady('NtlsClientBinding', 'app-drop', 30_000);
    expect(isReady(b)).toBe(true);
    expect(parseCertificate(fresh).sha256).toBeTruthy();
    expect(safetyViolations(rw.world)).toEqual([]);
    void op;
  }, 60_000);
});
