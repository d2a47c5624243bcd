/**
 * 3. Steady state: 20 DedicatedHsms, 200 NtlsClientBindings and 5 HsmHaGroups, all converged, left alone for ten
 * re-sync periods. What does doing nothing cost? ARM requests per HSM, SSH commands per binding, status writes,
 * API server requests, counted by the simulators and at the operator's API transport.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { World } from '../../src/sandbox/world.js';
import { DEFAULT_SETTINGS } from '../../src/controllers/shared/index.js';
import type { Operator } from '../../src/operator.js';
import { waitUntil } from '../lib/cluster.js';
import { fastTimers } from '../lib/clock.js';
import { cpuNow, cpuSince } from '../lib/cpu.js';
import type { Benchmark } from '../lib/env.js';
import { FLEET, FLEET_PERIOD, FLEET_PERIOD_MS, fleetReady } from '../lib/fleet.js';
import { diff, RequestLog, startOperator } from '../lib/operator.js';
import type { Figure, Table } from '../lib/result.js';
import { round } from '../lib/stats.js';
import { tally, tallyDiff } from '../lib/world.js';

/** Timers run this much faster: the 1-minute periods of the specs last 5 s. */
const FACTOR = 12;
const PERIODS = 10;
const PERIOD_REAL_MS = FLEET_PERIOD_MS / FACTOR;
const CONTROLLERS = { DedicatedHsm: FLEET.hsms, NtlsClientBinding: FLEET.bindings, HsmHaGroup: FLEET.groups } as const;

/** What an ARM request was about, from its path. */
function armKind(path: string): string {
  const p = path.toLowerCase();
  if (p.includes('/operationstatuses/') || p.includes('/operationresults/')) return 'operation poll';
  if (/\/dedicatedhsms\/[^/]+$/.test(p)) return 'HSM';
  if (p.endsWith('/dedicatedhsms')) return 'HSM list (quota view)';
  if (p.includes('/networkinterfaces/')) return 'NIC';
  if (p.includes('/virtualnetworkgateways/')) return 'ExpressRoute gateway';
  if (p.includes('/subnets/')) return 'subnet';
  if (p.includes('/virtualnetworks/')) return 'VNet';
  if (p.includes('/features/')) return 'feature registration';
  return 'other';
}

/** lunash commands a DedicatedHsm's own observation issues (the rest serve the bindings). */
const isHsmCommand = (name: string): boolean => /^(hsm |package |sysconf |ntls |network )/.test(name);

async function reconcileTotals(op: Operator): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of Object.keys(CONTROLLERS)) out[c] = await op.manager.metrics.value('controller_runtime_reconcile_total', { controller: c });
  return out;
}

async function idle(op: Operator): Promise<boolean> {
  return (await op.manager.metrics.value('controller_runtime_active_workers')) + (await op.manager.metrics.value('workqueue_depth')) === 0;
}

interface Snapshot {
  arm: number;
  appliances: ReturnType<typeof tally>;
  lunacm: Record<string, number>;
  lunacmConnections: number;
  ntlsHandshakes: number;
  requests: Record<string, number>;
  watches: number;
  reconciles: Record<string, number>;
}

async function snapshot(op: Operator, world: World, requests: RequestLog): Promise<Snapshot> {
  let handshakes = 0;
  for (const a of world.appliances.values()) handshakes += a.counters.ntlsHandshakes.success + a.counters.ntlsHandshakes.failure;
  return {
    arm: world.arm.requests.length,
    appliances: tally(world),
    lunacm: { ...world.lunacm.counters.commands.byName },
    lunacmConnections: world.lunacm.counters.ssh.connections,
    ntlsHandshakes: handshakes,
    requests: requests.snapshot(),
    // Watches opened, as the transport recorded them (rest_client_requests_total counts a watch as a GET).
    watches: Object.entries(requests.snapshot()).filter(([k]) => k.startsWith('WATCH')).reduce((n, [, v]) => n + Number(v), 0),
    reconciles: await reconcileTotals(op),
  };
}

/** Most commands issued within any `windowMs` (from counter samples). */
function busiestShare(samples: { t: number; execs: number }[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = samples[i]!;
    while (j + 1 < samples.length && samples[j + 1]!.t - a.t <= windowMs) j++;
    best = Math.max(best, samples[j]!.execs - a.execs);
  }
  return best;
}

const reconcilesIn = (after: Snapshot, before: Snapshot, controller: string): number => (after.reconciles[controller] ?? 0) - (before.reconciles[controller] ?? 0);

const isWrite = (request: string): boolean => /^(POST|PUT|PATCH|DELETE) /.test(request);

export const steadyState: Benchmark = {
  name: 'steady-state',
  title: '3. Steady state: 20 HSMs, 200 bindings, 5 HA groups idle for 10 periods',
  async run(env) {
    const fleet = await env.fleet();
    const { world } = fleet;
    const requests = new RequestLog();
    // The gateway read cache lives in real time (its TTL is min(30 s, gatewayWaitInitialMs)): scaled like the timers.
    const op = await startOperator(
      { kubeConfig: env.cluster.kubeConfig(), namespace: fleet.namespace, world, clock: fastTimers(FACTOR), settings: { gatewayWaitInitialMs: DEFAULT_SETTINGS.gatewayWaitInitialMs / FACTOR, gatewayWaitMaxMs: DEFAULT_SETTINGS.gatewayWaitMaxMs / FACTOR } },
      requests,
    );
    try {
      // The restart pass: every object reconciled once (nothing changed while no operator ran).
      const restart = await snapshot(op, world, requests);
      await waitUntil(
        'every object reconciled after the restart',
        async () => Object.entries(await reconcileTotals(op)).every(([c, n]) => n >= CONTROLLERS[c as keyof typeof CONTROLLERS]) && (await idle(op)),
        120_000,
        20,
      );
      const afterRestart = await snapshot(op, world, requests);
      const ready = fleetReady(op);
      env.log(`steady-state: restart pass done (${JSON.stringify(afterRestart.reconciles)} reconciles; ready ${JSON.stringify(ready)}); idling for ${PERIODS} periods of ${PERIOD_REAL_MS} ms`);

      const pids = env.cluster.controlPlane.pids();
      const cpu0 = cpuNow(pids);
      const before = await snapshot(op, world, requests);
      const armFrom = before.arm;
      // Device commands over time, to see whether the periodic work is spread over the period or comes in bursts.
      const samples: { t: number; execs: number }[] = [];
      const sampler = setInterval(() => samples.push({ t: performance.now(), execs: tally(world).execs }), 50);
      await sleep(PERIODS * PERIOD_REAL_MS);
      clearInterval(sampler);
      const after = await snapshot(op, world, requests);
      const cpu = cpuSince(cpu0, pids);
      const windowMinutes = (PERIODS * PERIOD_REAL_MS) / 60_000;

      // ARM
      const armWindow = world.arm.requests.slice(armFrom, after.arm);
      const armByKind = new Map<string, { reads: number; writes: number }>();
      for (const r of armWindow) {
        const k = armKind(r.path);
        const e = armByKind.get(k) ?? { reads: 0, writes: 0 };
        if (r.method === 'GET') e.reads++;
        else e.writes++;
        armByKind.set(k, e);
      }
      const armWrites = armWindow.filter((r) => r.method !== 'GET').length;
      const hsmReads = (armByKind.get('HSM')?.reads ?? 0) + (armByKind.get('NIC')?.reads ?? 0);
      // Re-syncs are jittered by ±10%, so a window of ten periods holds ten passes give or take one: count per pass.
      const hsmPasses = reconcilesIn(after, before, 'DedicatedHsm');
      const bindingPasses = reconcilesIn(after, before, 'NtlsClientBinding');
      const gatewayReads = (armByKind.get('ExpressRoute gateway')?.reads ?? 0) / PERIODS;

      // Devices
      const dev = tallyDiff(after.appliances, before.appliances);
      const bindingCommands = Object.entries(dev.byName).filter(([n]) => !isHsmCommand(n)).reduce((s, [, n]) => s + n, 0);
      const hsmCommands = Object.entries(dev.byName).filter(([n]) => isHsmCommand(n)).reduce((s, [, n]) => s + n, 0);
      const lunacm = diff(world.lunacm.counters.commands.byName, before.lunacm);
      const lunacmChanging = Object.keys(lunacm).filter((n) => !/listgroups|list|show/.test(n));

      // Kubernetes API
      const api = diff(after.requests, before.requests);
      const statusWrites = Object.entries(api).filter(([k]) => isWrite(k) && k.endsWith('/status')).reduce((s, [, n]) => s + n, 0);
      const allWrites = Object.entries(api).filter(([k]) => isWrite(k)).reduce((s, [, n]) => s + n, 0);
      const watches = after.watches - before.watches;
      const apiTotal = Object.values(api).reduce((a, b) => a + b, 0) + watches;
      const reconciles = diff(after.reconciles, before.reconciles);
      const restartApi = diff(afterRestart.requests, restart.requests);
      const restartWrites = Object.entries(restartApi).filter(([k]) => isWrite(k));

      const burst = busiestShare(samples, PERIOD_REAL_MS / 10) / ((after.appliances.execs - before.appliances.execs) / PERIODS);
      const figures: Figure[] = [
        { id: 'arm-reads-per-hsm', label: 'ARM reads per HSM per re-sync period (the HSM and its NIC)', value: round(hsmReads / hsmPasses), unit: 'reads', target: { op: '<=', value: 1 }, note: `${hsmReads} reads over ${hsmPasses} DedicatedHsm re-sync passes (${round(hsmReads / FLEET.hsms / PERIODS)} per HSM per nominal period)` },
        { id: 'arm-writes', label: 'ARM writes', value: armWrites, unit: 'writes', target: { op: '==', value: 0 } },
        { id: 'gateway-reads', label: 'ExpressRoute gateway reads per period, all 20 HSMs together', value: round(gatewayReads), unit: 'reads', note: 'shared through a read cache: 20 would mean one per HSM' },
        { id: 'ssh-per-binding', label: 'lunash commands per binding per drift-check period (two targets each), reads only', value: round(bindingCommands / bindingPasses), unit: 'commands', note: `${bindingCommands} commands over ${bindingPasses} binding passes (${round(bindingCommands / FLEET.bindings / PERIODS)} per binding per nominal period)` },
        { id: 'ssh-per-hsm', label: "lunash commands per HSM per period for the DedicatedHsm's own observation", value: round(hsmCommands / FLEET.hsms / PERIODS), unit: 'commands' },
        { id: 'ssh-state-changing', label: 'State-changing lunash / LunaCM commands', value: dev.stateChanging + lunacmChanging.reduce((s, n) => s + (lunacm[n] ?? 0), 0), unit: 'commands', target: { op: '==', value: 0 } },
        { id: 'status-writes', label: 'Status writes', value: statusWrites, unit: 'writes', target: { op: '==', value: 0 } },
        { id: 'api-writes', label: 'All API writes (status, Secrets, Events, finalizers)', value: allWrites, unit: 'writes', target: { op: '==', value: 0 } },
        { id: 'api-per-minute', label: `API server requests per minute of this run (timers ${FACTOR}× faster)`, value: round(apiTotal / windowMinutes), unit: 'requests/min', note: `${apiTotal} requests (${watches} of them watch re-connections) in ${PERIODS} periods of ${PERIOD_REAL_MS / 1000} s: ${round(apiTotal / PERIODS)} per ${FLEET_PERIOD} period, so ${round(apiTotal / PERIODS)} per minute at real ${FLEET_PERIOD} periods` },
        { id: 'burst', label: "Share of a period's device commands issued in its busiest tenth", value: round(burst * 100), unit: '%', note: '10% if the checks were spread evenly over the period, 100% if they all fire together' },
        { id: 'ssh-connections', label: 'SSH connections opened during the idle window', value: dev.connections + (world.lunacm.counters.ssh.connections - before.lunacmConnections), unit: 'connections' },
      ];
      const armTable: Table = {
        title: `ARM requests in ${PERIODS} periods`,
        columns: ['target', 'reads', 'writes', 'reads per period', 'reads per HSM per period'],
        rows: [...armByKind].sort((a, b) => b[1].reads - a[1].reads).map(([k, v]) => [k, v.reads, v.writes, round(v.reads / PERIODS), round(v.reads / PERIODS / FLEET.hsms)]),
      };
      const devTable: Table = {
        title: `Device commands in ${PERIODS} periods`,
        columns: ['where', 'command', 'count', 'per period', 'per binding per period', 'per HSM per period'],
        rows: [
          ...Object.entries(dev.byName)
            .sort((a, b) => b[1] - a[1])
            .map(([n, c]) => ['appliances', n, c, round(c / PERIODS), isHsmCommand(n) ? '—' : round(c / PERIODS / FLEET.bindings), round(c / PERIODS / FLEET.hsms)]),
          ...Object.entries(lunacm).map(([n, c]) => ['LunaCM host', n, c, round(c / PERIODS), '—', '—']),
          ['appliances', 'NTLS handshakes (not lunash)', after.ntlsHandshakes - before.ntlsHandshakes, round((after.ntlsHandshakes - before.ntlsHandshakes) / PERIODS), round((after.ntlsHandshakes - before.ntlsHandshakes) / PERIODS / FLEET.bindings), '—'],
        ],
      };
      const apiTable: Table = {
        title: `Kubernetes API requests in ${PERIODS} periods (watch requests counted apart: ${watches})`,
        columns: ['request', 'count', 'per period'],
        rows: Object.keys(api).length ? Object.entries(api).map(([k, n]) => [k, n, round(n / PERIODS)]) : [['none', 0, 0]],
      };
      const reconcileTable: Table = {
        title: 'Reconciles per object per period',
        columns: ['controller', 'objects', 'reconciles', 'per object per period'],
        rows: Object.entries(CONTROLLERS).map(([c, n]) => [c, n, reconciles[c] ?? 0, round((reconciles[c] ?? 0) / n / PERIODS)]),
      };
      return {
        name: 'steady-state',
        title: this.title,
        method: [
          `The fleet: ${FLEET.hsms} DedicatedHsms (seeded in the ARM simulator as existing HSMs and adopted, since Azure's initial quota of 4 per region refuses 20 new ones), ${FLEET.bindings} NtlsClientBindings registered on two HSMs each (400 registrations), ${FLEET.groups} HsmHaGroups of two members on a LunaCM host. Every object's own period is ${FLEET_PERIOD} in its spec (DedicatedHsm resyncInterval, binding driftCheckInterval, group pollInterval); the manager-wide re-sync stays at its production default (1h). It was converged by an operator that was then stopped.`,
          `A new operator is started over the converged fleet with a clock whose timers run ${FACTOR}× faster (bench/lib/clock.ts; now() stays real, so certificates, TLS and the simulators are unaffected): every ${FLEET_PERIOD} period lasts ${PERIOD_REAL_MS / 1000} s and every ratio between timers (periods, jitter, backoffs, watch supervision) is kept. The gateway read cache's TTL is real time, so gatewayWaitInitialMs (which bounds it) is scaled by the same factor. After the restart pass (every object reconciled once), ${PERIODS} periods (${(PERIODS * PERIOD_REAL_MS) / 1000} s) of idling are measured: ARM requests as the ARM simulator logged them, device commands and connections as the appliance and LunaCM simulators counted them, API requests at the operator's transport (watches from its metrics).`,
          `Real time runs 1× for what the clock does not govern: the SSH pool closes connections idle for 10 s, which the ${PERIOD_REAL_MS / 1000}-s periods never reach; with real 1-minute periods every period would open one connection per appliance.`,
        ],
        figures,
        tables: [armTable, devTable, apiTable, reconcileTable],
        details: {
          factor: FACTOR,
          periods: PERIODS,
          periodRealMs: PERIOD_REAL_MS,
          fleetSetupMs: fleet.setupMs,
          readyAtStart: ready,
          restartPass: { reconciles: afterRestart.reconciles, apiRequests: restartApi, writes: Object.fromEntries(restartWrites) },
          cpu,
          arm: Object.fromEntries(armByKind),
          devices: dev,
          lunacm,
          api,
          watches,
          reconciles,
        },
      };
    } finally {
      await op.stop(5_000);
    }
  },
};
