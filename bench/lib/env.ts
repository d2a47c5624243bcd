/** What every benchmark gets: the cluster, a log line printer, and the shared large namespace (built once). */
import { ResourceTypes } from '../../src/operator.js';
import type { BenchCluster } from './cluster.js';
import { createAll } from './cluster.js';
import { asObject, pausedBinding, pausedHsm } from './manifests.js';
import type { Fleet } from './fleet.js';
import type { BenchResult } from './result.js';

export interface LargeNamespace {
  namespace: string;
  hsms: number;
  bindings: number;
  /** How long creating all of it took (ms) and at what rate. */
  createMs: number;
}

export interface BenchEnv {
  cluster: BenchCluster;
  log(line: string): void;
  /** 100 paused DedicatedHsms and 5,000 paused NtlsClientBindings in one namespace, created on first use. */
  large(): Promise<LargeNamespace>;
  /** 20 DedicatedHsms, 200 bindings and 5 HA groups, converged, with no operator running; built on first use. */
  fleet(): Promise<Fleet>;
}

export interface Benchmark {
  name: string;
  title: string;
  run(env: BenchEnv): Promise<Omit<BenchResult, 'startedAt' | 'durationMs' | 'machine'>>;
}

export const LARGE = { hsms: 100, bindings: 5_000 } as const;

export function largeNamespaceFactory(cluster: BenchCluster, log: (line: string) => void): () => Promise<LargeNamespace> {
  let pending: Promise<LargeNamespace> | undefined;
  return () =>
    (pending ??= (async () => {
      const namespace = await cluster.namespace('bench-large');
      const started = Date.now();
      const hsmNames = Array.from({ length: LARGE.hsms }, (_, i) => `hsm-${String(i).padStart(3, '0')}`);
      await createAll(cluster.client, ResourceTypes.dedicatedHsms, hsmNames.map((n) => asObject(pausedHsm(n), namespace)));
      const bindings = Array.from({ length: LARGE.bindings }, (_, i) =>
        asObject(pausedBinding(`app-${String(i).padStart(4, '0')}`, [hsmNames[i % LARGE.hsms] ?? 'hsm-000', hsmNames[(i + 1) % LARGE.hsms] ?? 'hsm-001']), namespace),
      );
      await createAll(cluster.client, ResourceTypes.bindings, bindings, 32);
      const createMs = Date.now() - started;
      log(`large namespace ${namespace}: ${LARGE.hsms} DedicatedHsms + ${LARGE.bindings} NtlsClientBindings created in ${(createMs / 1000).toFixed(1)} s`);
      return { namespace, hsms: LARGE.hsms, bindings: LARGE.bindings, createMs };
    })());
}
