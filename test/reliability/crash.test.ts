/**
 * Scenario 1, crash anywhere: the operator runs as a separate process and is killed with SIGKILL at seeded random
 * points while 8 HSMs, 20 NTLS client bindings and 2 HA groups converge; it is restarted at once every time. After
 * the last restart everything converges and nothing was done twice or lost: one ARM HSM per DedicatedHsm (one
 * creating PUT), its attempt counter equal to the PUTs sent, every client registered once with its partitions, each
 * HA group created once with its members, no guard record invented, no SO login, no zeroization.
 *
 * Scaled for the 2-core budget: ROUNDS fresh worlds x KILLS kills each (see docs/reliability.md).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { armPuts, armViolations, haGroupViolations, registrationViolations, safetyViolations, seeded } from '../support/reliability-invariants.js';
import { isReady, type Kind } from '../support/reliability-kube.js';
import { ReliabilityWorld } from '../support/reliability-world.js';

const ROUNDS = Number(process.env.RELIABILITY_CRASH_ROUNDS ?? 5);
const KILLS = Number(process.env.RELIABILITY_CRASH_KILLS ?? 4);
const HSMS = 8;
const BINDINGS = 20;
/**
 * Kill points are drawn in units of work, not time, so every kill lands inside the convergence: the simulators
 * count state-changing actions (ARM PUTs, lunash and lunacm commands that change state), about 140 in all here.
 * The kill points of a round are sorted work counts drawn uniformly; a kill waits for its count plus a random
 * 0-40 ms, so it hits between and inside steps alike (a count the last life overshot: a random start-up moment).
 */
const EXPECTED_WORK = 140;
/** A life that does not reach its kill point (work done, or stuck) is killed after this long. */
const LATE_KILL_MS = 4_000;

interface RoundReport {
  seed: number;
  killsAtMs: number[];
  /** What had happened on the simulators at each kill: ARM PUTs, client registrations, groups. */
  progressAtKill: string[];
  convergedMs: number;
}

const reports: RoundReport[] = [];
const worlds: ReliabilityWorld[] = [];

afterAll(async () => {
  await Promise.all(worlds.map((w) => w.stop()));
  // The numbers docs/reliability.md quotes.
  process.stderr.write(`[reliability] crash: ${JSON.stringify(reports)}\n`);
}, 60_000);

function bindingTargets(i: number): string[] {
  return [`hsm${(i % HSMS) + 1}`, `hsm${((i + 3) % HSMS) + 1}`];
}

async function round(seed: number): Promise<void> {
  const rw = await ReliabilityWorld.start({ prefix: `crash${seed}`, hsms: HSMS });
  worlds.push(rw);
  const { world, kube } = rw;

  // Everything is declared before any operator runs: the first process starts into a full backlog.
  const groups = [
    { index: 0, label: 'groupA', members: rw.hsmNames.slice(0, 4).map((hsm) => ({ hsm })) },
    { index: 1, label: 'groupB', members: rw.hsmNames.slice(4, 8).map((hsm) => ({ hsm })) },
  ];
  await rw.groupSecrets(groups);
  for (const name of rw.hsmNames) await rw.deployHsm(name);
  for (const g of groups) await kube.apply(rw.haGroupManifest(`ha-${g.label.toLowerCase()}`, { label: g.label, members: g.members, passwordSecret: `ha-password-${g.index}` }));
  for (let i = 0; i < BINDINGS; i++) {
    const name = `app${i}`;
    // Half bring their certificate (cert-manager style), half let the operator generate one.
    const secretRef = i % 2 === 0 ? `${name}-tls` : undefined;
    if (secretRef) await rw.tlsSecret(secretRef, `${name}.apps.internal`);
    await kube.apply(rw.bindingManifest(name, { targets: bindingTargets(i).map((hsm) => ({ hsm, partitions: ['par0'] })), ...(secretRef ? { secretRef } : {}) }));
  }

  const rnd = seeded(seed);
  const report: RoundReport = { seed, killsAtMs: [], progressAtKill: [], convergedMs: 0 };
  const work = (): number => world.arm.count({ method: 'PUT' }) + [...world.appliances.values()].reduce((n, a) => n + a.counters.commands.stateChanging, 0) + world.lunacm.counters.commands.stateChanging;
  const progress = (): string => {
    const regs = [...world.appliances.values()].reduce((n, a) => n + a.state.clients.size, 0);
    return `work=${work()} puts=${world.arm.count({ method: 'PUT' })} clients=${regs} groups=${world.lunacm.state.groups.size}`;
  };
  // KILLS kill points spread over the whole convergence: sorted work counts drawn uniformly from [1, EXPECTED_WORK).
  const targets = Array.from({ length: KILLS }, () => 1 + Math.floor(rnd() * (EXPECTED_WORK - 1))).sort((a, b) => a - b);
  for (const [k, target] of targets.entries()) {
    const p = await rw.spawn(`crash-${seed}-${k}`);
    const born = Date.now();
    const jitter = Math.floor(rnd() * 40);
    // Passed already (the previous life overshot it): a random moment of this life's start-up instead.
    if (work() >= target) await new Promise((r) => setTimeout(r, jitter * 10));
    else {
      while (work() < target && Date.now() - born < LATE_KILL_MS) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, jitter));
    }
    await p.kill();
    report.killsAtMs.push(Date.now() - born);
    report.progressAtKill.push(`target=${target} ${progress()}`);
  }
  const started = Date.now();
  const last = await rw.spawn(`crash-${seed}-final`);
  const all: { kind: Kind; name: string }[] = [
    ...rw.hsmNames.map((name) => ({ kind: 'DedicatedHsm' as const, name })),
    ...Array.from({ length: BINDINGS }, (_, i) => ({ kind: 'NtlsClientBinding' as const, name: `app${i}` })),
    ...groups.map((g) => ({ kind: 'HsmHaGroup' as const, name: `ha-${g.label.toLowerCase()}` })),
  ];
  await kube.waitAllReady(all, 90_000);
  report.convergedMs = Date.now() - started;
  reports.push(report);

  // Invariants, from the simulators' side.
  const expectedClients = new Map<string, Map<string, string[]>>();
  for (let i = 0; i < BINDINGS; i++) for (const hsm of bindingTargets(i)) expectedClients.set(hsm, (expectedClients.get(hsm) ?? new Map()).set(`app${i}`, ['par0']));
  const expectedGroups = new Map(groups.map((g) => [g.label, g.members.map((m) => rw.partitionSerial(m.hsm))]));
  const violations = [
    ...armViolations(world, rw.hsmNames),
    ...registrationViolations(world, expectedClients),
    ...haGroupViolations(world, expectedGroups),
    ...safetyViolations(world),
  ];
  // ...and from the status side: nothing lost, nothing invented.
  for (const hsm of await kube.list('DedicatedHsm')) {
    const s = hsm.status ?? {};
    const puts = armPuts(world, hsm.metadata.name);
    // No attempt lost (a PUT the status does not count), none invented beyond one per kill (a kill between the
    // write-ahead of the attempt and its PUT spends that attempt).
    const attempts = typeof s.attempts === 'number' ? s.attempts : 0;
    if (attempts < puts || attempts > puts + KILLS) violations.push(`DedicatedHsm ${hsm.metadata.name}: status.attempts ${String(s.attempts)} for ${puts} PUT(s) sent`);
    if (s.pendingOperation !== undefined) violations.push(`DedicatedHsm ${hsm.metadata.name}: pendingOperation left behind`);
    if (s.credentialGuard !== undefined) violations.push(`DedicatedHsm ${hsm.metadata.name}: credential guard records without a rejected credential`);
  }
  for (const g of await kube.list('HsmHaGroup')) {
    if (!g.status?.groupNumber) violations.push(`HsmHaGroup ${g.metadata.name}: no groupNumber in status`);
    if (g.status?.credentialGuard !== undefined) violations.push(`HsmHaGroup ${g.metadata.name}: credential guard records without a rejected credential`);
  }
  expect(violations, `seed ${seed}, kills at ${report.killsAtMs.join(', ')} ms (${report.progressAtKill.join(' | ')})`).toEqual([]);
  expect((await kube.list('NtlsClientBinding')).every(isReady)).toBe(true);
  await last.stop();
}

describe('crash anywhere: SIGKILL at random points during convergence', () => {
  for (let r = 0; r < ROUNDS; r++) {
    const seed = 1_000 + r * 7_919;
    it(`converges after ${KILLS} kills with seed ${seed}`, () => round(seed), 200_000);
  }
});
