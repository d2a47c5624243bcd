/**
 * Scenario 2, leader failover: two operator processes with leader election on (a 4 s Lease) under load. The leader
 * is killed (SIGKILL), stopped gracefully (SIGTERM, the Lease released) and frozen (SIGSTOP, then SIGCONT after the
 * standby took over) while work is pending. Each time the standby takes over within 20 s, and no action is ever
 * performed by both: the simulators count every state-changing command, and each object got exactly one of each
 * (one creating PUT per HSM, one client register and assignPartition per client and target, one creategroup and
 * addmember per group member). Each failover is checked on its own, after the objects it loaded converged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armViolations, haGroupViolations, recordCommands, registrationViolations, safetyViolations, type CommandRecord } from '../support/reliability-invariants.js';
import type { Kind } from '../support/reliability-kube.js';
import type { OperatorProcess } from '../support/reliability-process.js';
import { ReliabilityWorld } from '../support/reliability-world.js';
import { WaitTimeout, waitFor } from '../support/wait.js';

const HSMS = 4;
const LEASE = { name: 'hsm-operator-leader', leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };
const TAKEOVER_LIMIT_MS = 20_000;
const BINDINGS_PER_PHASE = 6;

let rw: ReliabilityWorld;
let commands: CommandRecord[] = [];
const marks: { at: number; what: string }[] = [];
const takeovers: { how: string; ms: number }[] = [];
let bindings = 0;
let leader: OperatorProcess;
let standby: OperatorProcess;
let t0 = 0;
const targetsOf = (i: number): string[] => [`hsm${(i % HSMS) + 1}`, `hsm${((i + 1) % HSMS) + 1}`];

beforeAll(async () => {
  rw = await ReliabilityWorld.start({ prefix: 'failover', hsms: HSMS });
  commands = recordCommands(rw.world);
  await rw.groupSecrets([{ index: 0, members: rw.hsmNames.map((hsm) => ({ hsm })) }]);
  for (const name of rw.hsmNames) await rw.deployHsm(name);
  await rw.kube.apply(rw.haGroupManifest('ha-all', { label: 'haAll', members: rw.hsmNames.map((hsm) => ({ hsm })), passwordSecret: 'ha-password-0' }));
  leader = await candidate('op-1');
  standby = await candidate('op-2');
  t0 = await becameLeader(leader, 0);
  marks.push({ at: t0, what: 'op-1 leads' });
}, 90_000);

afterAll(async () => {
  await rw?.stop();
  process.stderr.write(`[reliability] failover: ${JSON.stringify(takeovers)}\n`);
}, 60_000);

async function addBindings(n: number): Promise<void> {
  for (let k = 0; k < n; k++, bindings++) {
    const i = bindings;
    await rw.kube.apply(rw.bindingManifest(`app${i}`, { targets: targetsOf(i).map((hsm) => ({ hsm, partitions: ['par0'] })) }));
  }
}

function candidate(identity: string): Promise<OperatorProcess> {
  return rw.spawn(identity, { leaderElection: { ...LEASE, identity } });
}

/** When `p` logged that it became leader (ms since epoch), waiting for it. */
async function becameLeader(p: OperatorProcess, after: number, timeoutMs = TAKEOVER_LIMIT_MS + 5_000): Promise<number> {
  const line = await p.waitForLog((l) => l.msg === 'became leader' && Date.parse(String(l.time)) >= after, timeoutMs, 'became leader');
  return Date.parse(String(line.time));
}

const work = (): number =>
  rw.world.arm.count({ method: 'PUT' }) + [...rw.world.appliances.values()].reduce((n, a) => n + a.counters.commands.stateChanging, 0) + rw.world.lunacm.counters.commands.stateChanging;

/** Lets the leader get `min` state-changing acts in hand (within 20 s; the fault is injected then either way). */
async function untilWork(min: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`${min} state-changing acts`, () => work() >= min, timeoutMs, 5).catch((e: unknown) => {
    if (!(e instanceof WaitTimeout)) throw e;
  });
}

/** Waits for every object, lets a resumed process run what it still had in hand, then checks exactly-once. */
async function converged(phase: string): Promise<void> {
  const all: { kind: Kind; name: string }[] = [
    ...rw.hsmNames.map((name) => ({ kind: 'DedicatedHsm' as const, name })),
    ...Array.from({ length: bindings }, (_, i) => ({ kind: 'NtlsClientBinding' as const, name: `app${i}` })),
    { kind: 'HsmHaGroup', name: 'ha-all' },
  ];
  await rw.kube.waitAllReady(all, 60_000);
  await new Promise((r) => setTimeout(r, 2_000));
  const expectedClients = new Map<string, Map<string, string[]>>();
  for (let i = 0; i < bindings; i++) for (const hsm of targetsOf(i)) expectedClients.set(hsm, (expectedClients.get(hsm) ?? new Map()).set(`app${i}`, ['par0']));
  const violations = [
    ...armViolations(rw.world, rw.hsmNames),
    ...registrationViolations(rw.world, expectedClients),
    ...haGroupViolations(rw.world, new Map([['haAll', rw.hsmNames.map((h) => rw.partitionSerial(h))]])),
    ...safetyViolations(rw.world),
  ];
  const timeline = [...marks.map((m) => ({ at: m.at, line: `== ${m.what}` })), ...commands.filter((c) => !/show|list|fingerprint|scp download/.test(c.command)).map((c) => ({ at: c.at, line: `${c.device}: ${c.command}` }))]
    .sort((x, y) => x.at - y.at)
    .map((x) => `${x.at - t0} ${x.line}`);
  expect(violations, `${phase}\n${timeline.join('\n')}`).toEqual([]);
}

describe('leader failover between two operator processes', () => {
  it('a crashed leader (SIGKILL) is replaced within 20 s and nothing is done twice', async () => {
    await addBindings(BINDINGS_PER_PHASE);
    await untilWork(12);
    const at = Date.now();
    await leader.kill();
    marks.push({ at, what: `SIGKILL ${leader.name}` });
    const took = await becameLeader(standby, at);
    marks.push({ at: took, what: `${standby.name} leads` });
    takeovers.push({ how: 'SIGKILL', ms: took - at });
    expect(took - at).toBeLessThan(TAKEOVER_LIMIT_MS);
    [leader, standby] = [standby, await candidate('op-3')];
    await converged('after SIGKILL');
  }, 90_000);

  it('a leader shutting down (SIGTERM) releases the Lease; the standby takes over at once and nothing is done twice', async () => {
    await addBindings(BINDINGS_PER_PHASE);
    await untilWork(work() + 6);
    const at = Date.now();
    const stopping = leader.stop();
    marks.push({ at, what: `SIGTERM ${leader.name}` });
    const took = await becameLeader(standby, at);
    marks.push({ at: took, what: `${standby.name} leads` });
    takeovers.push({ how: 'SIGTERM', ms: took - at });
    expect(took - at).toBeLessThan(TAKEOVER_LIMIT_MS);
    await stopping;
    [leader, standby] = [standby, await candidate('op-4')];
    await converged('after SIGTERM');
  }, 90_000);

  it('a frozen leader (SIGSTOP) is replaced, and once resumed (SIGCONT) it does nothing the new leader does', async () => {
    await addBindings(BINDINGS_PER_PHASE);
    await untilWork(work() + 4);
    const at = Date.now();
    const frozen = leader;
    frozen.pause();
    marks.push({ at, what: `SIGSTOP ${frozen.name}` });
    const took = await becameLeader(standby, at);
    marks.push({ at: took, what: `${standby.name} leads` });
    takeovers.push({ how: 'SIGSTOP', ms: took - at });
    expect(took - at).toBeLessThan(TAKEOVER_LIMIT_MS);
    await new Promise((r) => setTimeout(r, 1_000));
    frozen.resume();
    marks.push({ at: Date.now(), what: `SIGCONT ${frozen.name}` });
    leader = standby;
    await converged('after SIGSTOP/SIGCONT');
    // The resumed process noticed it lost the Lease.
    await frozen.waitForLog((l) => /leadership lost/.test(String(l.msg)), 10_000, 'leadership lost');
  }, 90_000);
});
