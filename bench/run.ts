/**
 * `npm run bench [-- <name>...]`: starts a private control plane, runs the benchmarks (all, or those named), writes
 * bench/results/<name>.json and regenerates bench/RESULTS.md. `npm run bench -- --list` names them;
 * `npm run bench -- --report` only regenerates RESULTS.md. Benchmarks are not tests: they measure, and a missed
 * target is reported, not failed.
 */
import { performance } from 'node:perf_hooks';
import { convergence } from './benchmarks/convergence.js';
import { memory } from './benchmarks/memory.js';
import { reaction } from './benchmarks/reaction.js';
import { steadyState } from './benchmarks/steady-state.js';
import { throughput } from './benchmarks/throughput.js';
import { startCluster } from './lib/cluster.js';
import { largeNamespaceFactory, type Benchmark, type BenchEnv } from './lib/env.js';
import { fleetFactory } from './lib/fleet.js';
import { writeMarkdown, writeResult } from './lib/report.js';
import { machine, meets } from './lib/result.js';

/** Run order: the large namespace is built once for memory and throughput, which run last. */
const BENCHMARKS: Benchmark[] = [convergence, steadyState, reaction, memory, throughput];

const log = (line: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--list')) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name}\t${b.title}\n`);
    return 0;
  }
  if (argv.includes('--report')) {
    log(`wrote ${writeMarkdown()}`);
    return 0;
  }
  const names = argv.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; one of: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const started = performance.now();
  const cluster = await startCluster((line) => log(`  ${line}`));
  const fleet = fleetFactory(cluster, log);
  let fleetUsed = false;
  const env: BenchEnv = {
    cluster,
    log,
    large: largeNamespaceFactory(cluster, log),
    fleet: () => {
      fleetUsed = true;
      return fleet();
    },
  };
  let failed = 0;
  try {
    for (const b of selected) {
      log(`${b.name}: ${b.title}`);
      const t0 = performance.now();
      const m = machine();
      const startedAt = new Date().toISOString();
      try {
        const r = await b.run(env);
        const file = writeResult({ ...r, startedAt, durationMs: Math.round(performance.now() - t0), machine: m });
        for (const f of r.figures) {
          const ok = meets(f);
          log(`  ${f.label}: ${f.value} ${f.unit}${f.target ? ` (target ${f.target.op} ${f.target.value}: ${ok ? 'met' : 'MISSED'})` : ''}`);
        }
        log(`${b.name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s -> ${file}`);
      } catch (e) {
        failed++;
        log(`${b.name} FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  } finally {
    if (fleetUsed) await fleet().then((f) => f.stop(), () => undefined);
    await cluster.stop();
  }
  log(`wrote ${writeMarkdown()}; all done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
