/**
 * The operator as its own process, for the memory benchmark: all three controllers against one namespace, no
 * world (every object there is paused, so nothing dials Azure or an appliance). Reports, over IPC, when the
 * caches synced, when the first reconcile finished, when every object had been reconciled once, and the memory
 * the process holds then. Started by memory.ts with `node --import tsx --expose-gc`.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { connectionFor } from '../../src/azure/index.js';
import { buildOperator } from '../../src/operator.js';
import { createLogger } from '../../src/runtime/index.js';

export interface ChildConfig {
  kubeconfigYaml: string;
  namespace: string;
  /** Objects per controller that must each have been reconciled once. */
  expect: Record<string, number>;
  /** When to sample memory while idle, ms after every object was reconciled (ascending). */
  idleSamplesMs?: number[];
}

export interface ChildReport {
  /** ms since the process started. */
  modulesLoadedMs: number;
  cachesSyncedMs: number;
  firstReconcileMs: number;
  allReconciledMs: number;
  reconciles: Record<string, number>;
  apiRequests: Record<string, number>;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  memoryBeforeGc: { rss: number; heapUsed: number };
  maxRssBytes: number;
  timeline: { afterMs: number; rss: number; heapUsed: number; heapTotal: number }[];
  /** V8 heap spaces after the GC: size reserved and used, bytes. */
  heapSpaces: { space: string; size: number; used: number }[];
  execArgv: string[];
}

/**
 * Peak RSS of this process: VmHWM belongs to the address space and starts afresh at exec, unlike getrusage's
 * maxRSS, which Linux carries over from the parent that forked us.
 */
function peakRss(): number {
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const modulesLoadedMs = performance.now();
  const cfg = JSON.parse(process.env.BENCH_CHILD ?? '{}') as ChildConfig;
  const kc = new KubeConfig();
  kc.loadFromString(cfg.kubeconfigYaml);
  const nowhere = 'https://127.0.0.1:9';
  const op = buildOperator({
    manager: {
      kubeConfig: kc,
      namespaces: [cfg.namespace],
      leaderElection: false,
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
      log: createLogger({ level: 'silent', name: 'hsm-operator' }),
    },
    azure: {
      connection: connectionFor({ endpoint: nowhere, credentialScopes: [`${nowhere}/.default`] }),
      defaultCredential: { kind: 'static', credential: { getToken: () => Promise.resolve({ token: 'unused', expiresOnTimestamp: Date.now() + 3_600_000 }) } },
    },
  });
  const metrics = op.manager.metrics;
  const reconciles = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const c of Object.keys(cfg.expect)) out[c] = await metrics.value('controller_runtime_reconcile_total', { controller: c });
    return out;
  };
  await op.start();
  const cachesSyncedMs = performance.now();
  let firstReconcileMs = 0;
  for (;;) {
    const r = await reconciles();
    const sum = Object.values(r).reduce((a, b) => a + b, 0);
    if (sum > 0 && !firstReconcileMs) firstReconcileMs = performance.now();
    const busy = (await metrics.value('controller_runtime_active_workers')) + (await metrics.value('workqueue_depth'));
    if (Object.entries(cfg.expect).every(([c, n]) => (r[c] ?? 0) >= n) && busy === 0) break;
    await sleep(5);
  }
  const allReconciledMs = performance.now();
  // RSS as a monitoring system sees it while the operator idles: V8 gives freed pages back only gradually.
  const timeline: ChildReport['timeline'] = [];
  const sample = (at: number) => {
    const u = process.memoryUsage();
    timeline.push({ afterMs: at, rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal });
  };
  sample(0);
  for (const at of cfg.idleSamplesMs ?? [1_000]) {
    await sleep(at - (timeline[timeline.length - 1]?.afterMs ?? 0));
    sample(at);
  }
  const before = process.memoryUsage();
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(500);
  const m = process.memoryUsage();
  const byVerb: Record<string, number> = {};
  for (const v of (await metrics.registry.getSingleMetric('rest_client_requests_total')?.get())?.values ?? []) byVerb[String(v.labels.method)] = (byVerb[String(v.labels.method)] ?? 0) + v.value;
  const report: ChildReport = {
    modulesLoadedMs,
    cachesSyncedMs,
    firstReconcileMs,
    allReconciledMs,
    reconciles: await reconciles(),
    apiRequests: byVerb,
    memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers },
    memoryBeforeGc: { rss: before.rss, heapUsed: before.heapUsed },
    maxRssBytes: peakRss(),
    timeline,
    heapSpaces: getHeapSpaceStatistics().map((h) => ({ space: h.space_name, size: h.space_size, used: h.space_used_size })),
    execArgv: process.execArgv,
  };
  process.send?.(report);
  await op.stop(5_000);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
