/**
 * 4. Memory and start-up: the operator, as its own process, with 5,000 NtlsClientBindings and 100 DedicatedHsms in
 * its caches. The objects are paused (reconcile mode `paused`): every controller runs and reconciles each of them,
 * but none dials Azure or an appliance, so the figures are those of the caches, queues and controllers.
 */
import { execFile, fork } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { BenchEnv, Benchmark } from '../lib/env.js';
import { repoRoot } from '../lib/cluster.js';
import type { Figure } from '../lib/result.js';
import { median, round } from '../lib/stats.js';
import type { ChildConfig, ChildReport } from './memory-child.js';

const MiB = 2 ** 20;
const RESTARTS = 2;
const TUNED_FLAG = '--max-semi-space-size=4';
/** Memory samples while the operator idles after start-up, ms after every object was reconciled. */
const IDLE_SAMPLES_MS = [1_000, 3_000];

/**
 * The operator process runs compiled JavaScript, as in its container image, not through tsx (whose loader thread
 * and transform caches would add ~90 MiB that production never carries). esbuild (tsx's compiler) bundles the
 * operator's own modules into one file; the npm dependencies stay external and load from node_modules as usual.
 * Falls back to tsx when esbuild cannot be loaded.
 */
async function compileChild(): Promise<{ file: string; execArgv: string[]; how: string }> {
  const source = join(repoRoot, 'bench', 'benchmarks', 'memory-child.ts');
  const out = join(repoRoot, 'node_modules', '.cache', 'hsm-bench', 'memory-child.mjs');
  try {
    const esbuild = await import('esbuild');
    await esbuild.build({ entryPoints: [source], bundle: true, platform: 'node', format: 'esm', target: 'node24', packages: 'external', outfile: out, logLevel: 'warning' });
    return { file: out, execArgv: ['--expose-gc'], how: 'compiled JavaScript (esbuild bundle of the operator modules; npm dependencies loaded from node_modules)' };
  } catch {
    return { file: source, execArgv: ['--import', 'tsx', '--expose-gc'], how: 'TypeScript through tsx (esbuild unavailable: RSS includes tsx\'s loader)' };
  }
}

function runChild(program: { file: string; execArgv: string[] }, cfg: ChildConfig, timeoutMs = 180_000): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = fork(program.file, [], {
      cwd: repoRoot,
      execArgv: program.execArgv,
      env: { ...process.env, BENCH_CHILD: JSON.stringify(cfg) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: ChildReport | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('message', (m) => (report = m as ChildReport));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (report) resolve(report);
      else reject(new Error(`operator process exited (${signal ?? code}) without a report`));
    });
  });
}

/** The runtime dependencies of the operator, each loaded alone into a fresh Node: what its code costs in RSS. */
const DEPENDENCIES = ['@kubernetes/client-node', '@azure/arm-network', '@azure/identity', '@azure/arm-hardwaresecuritymodules', 'prom-client', 'ssh2', '@peculiar/x509', 'pino', 'yaml', '@sinclair/typebox'];

async function dependencyCost(): Promise<{ module: string; rssMiB: number; heapMiB: number }[]> {
  const run = promisify(execFile);
  const probe = async (module: string | undefined) => {
    const code = `${module ? (module === '@peculiar/x509' ? "await import('reflect-metadata'); " : '') + `await import(${JSON.stringify(module)}); ` : ''}globalThis.gc(); const u = process.memoryUsage(); console.log(JSON.stringify([u.rss, u.heapUsed]));`;
    const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { cwd: repoRoot });
    const [rss, heap] = JSON.parse(stdout) as [number, number];
    return { rss: rss / MiB, heap: heap / MiB };
  };
  const bare = await probe(undefined);
  const out = [{ module: '(bare node)', rssMiB: round(bare.rss), heapMiB: round(bare.heap) }];
  for (const m of DEPENDENCIES) {
    const r = await probe(m);
    out.push({ module: m, rssMiB: round(r.rss - bare.rss), heapMiB: round(r.heap - bare.heap) });
  }
  return out;
}

interface Start {
  label: string;
  flags: string;
  kind: 'empty' | 'first' | 'restart';
  r: ChildReport;
}

export const memory: Benchmark = {
  name: 'memory',
  title: '4. Memory and start-up with 5,000 bindings and 100 HSMs',
  async run(env: BenchEnv) {
    const large = await env.large();
    const expect = { DedicatedHsm: large.hsms, NtlsClientBinding: large.bindings };
    const base = { kubeconfigYaml: env.cluster.kubeconfigYaml };
    const program = await compileChild();
    const starts: Start[] = [];
    const start = async (label: string, kind: Start['kind'], flags: string[], namespace: string, exp: Record<string, number>) => {
      const r = await runChild({ file: program.file, execArgv: [...program.execArgv, ...flags] }, { ...base, namespace, expect: exp, idleSamplesMs: IDLE_SAMPLES_MS });
      starts.push({ label, flags: flags.join(' ') || '(defaults)', kind, r });
      env.log(
        `memory: ${label}: RSS ${Math.round(r.memory.rss / MiB)} MiB (peak ${Math.round(r.maxRssBytes / MiB)}, young generation ${Math.round(space(r, 'new_space') / MiB)} MiB), synced ${Math.round(r.cachesSyncedMs - r.modulesLoadedMs)} ms, all reconciled ${Math.round(r.allReconciledMs - r.modulesLoadedMs)} ms`,
      );
      return r;
    };

    // An empty namespace first: what the process holds with nothing in its caches.
    const emptyNs = await env.cluster.namespace('bench-empty');
    const empty = await start('empty namespace', 'empty', [], emptyNs, {});
    const emptyTuned = await start(`empty namespace, ${TUNED_FLAG}`, 'empty', [TUNED_FLAG], emptyNs, {});
    // The first start writes every object's first status (Paused); restarts find nothing to write.
    const first = await start('first start', 'first', [], large.namespace, expect);
    const restarts: ChildReport[] = [];
    for (let i = 0; i < RESTARTS; i++) restarts.push(await start(`restart ${i + 1}`, 'restart', [], large.namespace, expect));
    // The same with a capped young generation: V8 otherwise keeps the nursery it grew during the start-up burst.
    const tuned: ChildReport[] = [];
    for (let i = 0; i < RESTARTS; i++) tuned.push(await start(`restart ${i + 1}, ${TUNED_FLAG}`, 'restart', [TUNED_FLAG], large.namespace, expect));
    const deps = await dependencyCost();

    const loaded = [first, ...restarts];
    const since = (r: ChildReport, t: number) => t - r.modulesLoadedMs;
    const rss = (rs: ChildReport[]) => round(median(rs.map((r) => r.memory.rss / MiB)));
    const figures: Figure[] = [
      { id: 'rss', label: 'Operator RSS with 5,000 bindings and 100 HSMs cached, Node defaults', value: rss(loaded), unit: 'MiB', target: { op: '<=', value: 200 }, note: `median of ${loaded.length} starts, idle, after a GC; empty caches: ${round(empty.memory.rss / MiB)} MiB` },
      { id: 'rss-tuned', label: `Operator RSS with 5,000 bindings and 100 HSMs cached, ${TUNED_FLAG}`, value: rss(tuned), unit: 'MiB', target: { op: '<=', value: 200 }, note: `median of ${tuned.length} restarts; empty caches: ${round(emptyTuned.memory.rss / MiB)} MiB` },
      { id: 'rss-peak', label: 'Peak RSS during start-up, Node defaults', value: round(Math.max(...loaded.map((r) => r.maxRssBytes / MiB))), unit: 'MiB', note: 'highest of the starts (VmHWM)' },
      { id: 'heap', label: 'V8 heap in use with everything cached (after a GC)', value: round(median(loaded.map((r) => r.memory.heapUsed / MiB))), unit: 'MiB', note: `empty caches: ${round(empty.memory.heapUsed / MiB)} MiB` },
      { id: 'synced', label: 'Start -> all caches synced (restart)', value: round(median(restarts.map((r) => since(r, r.cachesSyncedMs)))), unit: 'ms', note: `median of ${restarts.length} restarts, counted from the moment the modules were loaded` },
      { id: 'first-reconcile', label: 'Start -> first reconcile done (restart)', value: round(median(restarts.map((r) => since(r, r.firstReconcileMs)))), unit: 'ms' },
      { id: 'all-reconciled', label: 'Start -> every object reconciled once (restart: nothing to write)', value: round(median(restarts.map((r) => since(r, r.allReconciledMs)))), unit: 'ms' },
      { id: 'first-all-reconciled', label: 'First start -> every object reconciled once (5,100 first status writes)', value: round(since(first, first.allReconciledMs)), unit: 'ms' },
      { id: 'load', label: 'Process start -> modules loaded', value: round(median(loaded.map((r) => r.modulesLoadedMs))), unit: 'ms' },
    ];
    return {
      name: 'memory',
      title: this.title,
      method: [
        `${large.hsms} DedicatedHsms and ${large.bindings} NtlsClientBindings (two targets each) are created in one namespace with the annotation dedicatedhsm.io/reconcile: paused, because creating that many real, converging objects would take far longer than the benchmark may. The operator caches all of them and its controllers reconcile each one (a paused reconcile reports Paused and touches neither Azure nor an appliance), so the figures are those of the caches, queues and controllers, not of device sessions. Creating the objects took ${(large.createMs / 1000).toFixed(1)} s.`,
        `The operator runs as its own Node process (all three controllers, built by src/operator.ts as main.ts builds them) so RSS is the operator's alone; it runs ${program.how}. The first start writes the first status of all ${large.hsms + large.bindings} objects; the restarts find the statuses current and write nothing, which is what a restarted or failed-over operator sees. Times count from the moment the process had loaded its modules; "first reconcile" is the first completed reconcile of any controller. Memory is read once every object was reconciled once, after ${IDLE_SAMPLES_MS.at(-1)! / 1000} s of idling and a forced GC; peak RSS is the process's VmHWM (high-water mark of its resident set).`,
        `The last restarts run with ${TUNED_FLAG}: Node's default lets V8's young generation grow to its maximum during the start-up burst and keeps it reserved afterwards (the "young generation" column).`,
      ],
      figures,
      tables: [
        {
          title: 'Each start',
          columns: ['start', 'caches synced ms', 'first reconcile ms', 'all reconciled ms', 'RSS MiB', 'peak RSS MiB', 'heap used MiB', 'heap reserved MiB', 'young generation MiB', 'API requests'],
          rows: starts.map((x) => [
            x.label,
            round(since(x.r, x.r.cachesSyncedMs)),
            x.kind === 'empty' ? '—' : round(since(x.r, x.r.firstReconcileMs)),
            x.kind === 'empty' ? '—' : round(since(x.r, x.r.allReconciledMs)),
            round(x.r.memory.rss / MiB),
            round(x.r.maxRssBytes / MiB),
            round(x.r.memory.heapUsed / MiB),
            round(x.r.memory.heapTotal / MiB),
            round(space(x.r, 'new_space') / MiB),
            Object.entries(x.r.apiRequests).map(([v, n]) => `${v} ${n}`).join(', '),
          ]),
        },
        { title: 'RSS a dependency adds when loaded alone into a fresh Node process (the first row is Node itself)', columns: ['module', 'RSS MiB', 'heap MiB'], rows: deps.map((d) => [d.module, d.rssMiB, d.heapMiB]) },
      ],
      details: { program: program.how, tunedFlag: TUNED_FLAG, starts, dependencies: deps, objects: { hsms: large.hsms, bindings: large.bindings, createMs: large.createMs } },
    };
  },
};

function space(r: ChildReport, name: string): number {
  return r.heapSpaces.find((h) => h.space === name)?.size ?? 0;
}
