/**
 * 6. Reconcile throughput of the runtime: how many reconciles per second the work queue, workers and metrics
 * sustain over 5,000 cached objects, with reconcilers that do (almost) nothing, at concurrency 1, 4 and 16.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { NtlsClientBinding } from '../../src/api/index.js';
import { ResourceTypes } from '../../src/operator.js';
import { Controller, Manager, createLogger, type KubeObject, type ReconcileFn } from '../../src/runtime/index.js';
import type { Benchmark } from '../lib/env.js';
import type { Figure, Table } from '../lib/result.js';
import { median, round } from '../lib/stats.js';

const CONCURRENCY = [1, 4, 16] as const;

interface Variant {
  name: string;
  what: string;
  runs: number;
  make(manager: Manager, get: (key: string) => KubeObject | undefined): ReconcileFn;
}

const VARIANTS: Variant[] = [
  { name: 'no-op', what: 'returns at once', runs: 5, make: () => async () => undefined },
  {
    name: 'cache read + status compare',
    what: 'reads the object from the cache and asks the StatusWriter to write an unchanged status (compared, not written): the CPU floor of a steady-state pass',
    runs: 5,
    make: (manager, get) => async (key) => {
      const obj = get(key);
      if (obj) await manager.status.update(ResourceTypes.bindings, obj, () => undefined, { observedGeneration: false });
    },
  },
  { name: '1 ms I/O wait', what: 'awaits a 1 ms timer (stands for a device or Azure round trip): shows what concurrency buys', runs: 3, make: () => async () => void (await sleep(1)) },
];

export const throughput: Benchmark = {
  name: 'throughput',
  title: '6. Reconcile throughput of the runtime',
  async run(env) {
    const large = await env.large();
    const manager = new Manager({
      kubeConfig: env.cluster.kubeConfig(),
      namespaces: [large.namespace],
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
      log: createLogger({ level: 'silent', name: 'bench' }),
    });
    const informer = manager.informer<NtlsClientBinding>(ResourceTypes.bindings);
    await manager.start();
    const n = informer.keys().length;
    // Watch (re)connections of the cache are not requests of the reconcilers.
    const requestCount = async () => {
      let n = 0;
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) n += await manager.metrics.value('rest_client_requests_total', { method });
      return n;
    };
    const requestsBefore = await requestCount();
    const rows: Table['rows'] = [];
    const figures: Figure[] = [];
    const perVariant: Record<string, Record<number, { rates: number[]; cpuUsPerReconcile: number[] }>> = {};
    let requests: number;
    try {
      for (const v of VARIANTS) {
        perVariant[v.name] = {};
        for (const c of CONCURRENCY) {
          const rates: number[] = [];
          const cpu: number[] = [];
          for (let run = 0; run < v.runs; run++) {
            const inner = v.make(manager, (key) => informer.get(key));
            let done = 0;
            let finish!: () => void;
            const finished = new Promise<void>((r) => (finish = r));
            const controller = new Controller({
              name: `bench-${v.name.replace(/\W+/g, '-')}-${c}`,
              for: informer,
              concurrency: c,
              initialKeys: () => informer.keys(),
              metrics: manager.metrics,
              reconciler: async (key, ctx) => {
                await inner(key, ctx);
                if (++done === n) finish();
              },
            });
            const cpu0 = process.cpuUsage();
            const t0 = performance.now();
            controller.start();
            await finished;
            const ms = performance.now() - t0;
            const used = process.cpuUsage(cpu0);
            await controller.stop(5_000);
            controller.dispose();
            rates.push(n / (ms / 1000));
            cpu.push((used.user + used.system) / n);
          }
          perVariant[v.name]![c] = { rates, cpuUsPerReconcile: cpu };
          rows.push([v.name, c, round(median(rates)), round(Math.min(...rates)), round(Math.max(...rates)), round(median(cpu)), v.runs]);
          env.log(`throughput ${v.name} c=${c}: ${Math.round(median(rates))}/s`);
          if (v.name === 'no-op') figures.push({ id: `noop-c${c}`, label: `No-op reconciles per second, concurrency ${c}`, value: round(median(rates)), unit: '/s', note: `median of ${v.runs} passes over ${n} objects` });
        }
      }
      requests = (await requestCount()) - requestsBefore;
    } finally {
      await manager.stop(5_000);
    }
    figures.push({ id: 'api-requests', label: 'API requests made by these reconciles', value: requests, unit: 'requests', target: { op: '==', value: 0 } });
    return {
      name: 'throughput',
      title: this.title,
      method: [
        `A Manager with one cache of the ${n} NtlsClientBindings of the large namespace (all paused, so nothing else touches them). For each reconciler and concurrency a fresh Controller is started with every key queued; the time until every key was reconciled once gives the rate. Work-queue metrics and reconcile metrics are recorded as in production.`,
        ...VARIANTS.map((v) => `"${v.name}": ${v.what}; median of ${v.runs} passes.`),
        'CPU per reconcile is process CPU time (user + system) over the pass divided by the reconciles: it includes the watch cache and everything else the process did meanwhile.',
      ],
      figures,
      tables: [{ title: 'Reconciles per second', columns: ['reconciler', 'concurrency', 'median /s', 'min /s', 'max /s', 'CPU µs / reconcile', 'passes'], rows }],
      details: { objects: n, perVariant },
    };
  },
};
