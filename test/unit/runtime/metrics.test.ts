import { describe, expect, it } from 'vitest';
import { CoreTypes, FakeClock, KubeClient, LeaderElector, RuntimeMetrics, WorkQueue, type ApiRequest, type ApiResponse, type StreamRequest, type Transport } from '../../../src/runtime/index.js';
import { FakeApi } from './fake-api.js';

const settle = async (rounds = 10) => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

/**
 * The families the runtime shares with controller-runtime v0.24 and client-go, as they define them
 * (pkg/internal/controller/metrics/metrics.go, pkg/internal/metrics/workqueue.go, pkg/metrics/client_go_adapter.go,
 * pkg/metrics/leaderelection.go): name -> type, label names in order, histogram buckets.
 */
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4,
  4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// prometheus.ExponentialBuckets(10e-9, 10, 12): 1e-8 .. 1e3.
const queueBuckets = Array.from({ length: 12 }, (_, i) => 10e-9 * 10 ** i);
const CONTROLLER_RUNTIME: Record<string, { type: string; labels: string[]; buckets?: number[] }> = {
  controller_runtime_reconcile_total: { type: 'counter', labels: ['controller', 'result'] },
  controller_runtime_reconcile_errors_total: { type: 'counter', labels: ['controller'] },
  controller_runtime_terminal_reconcile_errors_total: { type: 'counter', labels: ['controller'] },
  controller_runtime_reconcile_panics_total: { type: 'counter', labels: ['controller'] },
  controller_runtime_reconcile_time_seconds: { type: 'histogram', labels: ['controller'], buckets: reconcileBuckets },
  controller_runtime_max_concurrent_reconciles: { type: 'gauge', labels: ['controller'] },
  controller_runtime_active_workers: { type: 'gauge', labels: ['controller'] },
  workqueue_depth: { type: 'gauge', labels: ['name', 'controller', 'priority'] },
  workqueue_adds_total: { type: 'counter', labels: ['name', 'controller'] },
  workqueue_queue_duration_seconds: { type: 'histogram', labels: ['name', 'controller'], buckets: queueBuckets },
  workqueue_work_duration_seconds: { type: 'histogram', labels: ['name', 'controller'], buckets: queueBuckets },
  workqueue_unfinished_work_seconds: { type: 'gauge', labels: ['name', 'controller'] },
  workqueue_longest_running_processor_seconds: { type: 'gauge', labels: ['name', 'controller'] },
  workqueue_retries_total: { type: 'counter', labels: ['name', 'controller'] },
  rest_client_requests_total: { type: 'counter', labels: ['code', 'method', 'host'] },
  leader_election_master_status: { type: 'gauge', labels: ['name'] },
};

describe('RuntimeMetrics', () => {
  it('defines every family it shares with controller-runtime with the same type, labels and buckets', () => {
    const metrics = new RuntimeMetrics();
    const got: Record<string, { type: string; labels: string[]; buckets?: number[] }> = {};
    for (const m of metrics.registry.getMetricsAsArray()) {
      const raw = m as unknown as { name: string; type: string; labelNames: string[]; upperBounds?: number[] };
      if (!(raw.name in CONTROLLER_RUNTIME)) continue;
      got[raw.name] = { type: raw.type, labels: [...raw.labelNames], ...(raw.upperBounds ? { buckets: [...raw.upperBounds] } : {}) };
    }
    expect(Object.keys(got).sort()).toEqual(Object.keys(CONTROLLER_RUNTIME).sort());
    for (const [name, want] of Object.entries(CONTROLLER_RUNTIME)) {
      expect(got[name]!.type, name).toBe(want.type);
      expect(got[name]!.labels, name).toEqual(want.labels);
      if (want.buckets) {
        expect(got[name]!.buckets?.length, name).toBe(want.buckets.length);
        got[name]!.buckets!.forEach((b, i) => expect(b, `${name} bucket ${i}`).toBeCloseTo(want.buckets![i]!, 12));
      }
    }
  });

  it('starts a controller at zero for every result, errors, terminal errors and panics', async () => {
    const metrics = new RuntimeMetrics();
    metrics.initController('things', 3);
    const text = await metrics.registry.metrics();
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) expect(text).toContain(`controller_runtime_reconcile_total{controller="things",result="${result}"} 0`);
    expect(text).toContain('controller_runtime_reconcile_errors_total{controller="things"} 0');
    expect(text).toContain('controller_runtime_terminal_reconcile_errors_total{controller="things"} 0');
    expect(text).toContain('controller_runtime_reconcile_panics_total{controller="things"} 0');
    expect(text).toContain('controller_runtime_max_concurrent_reconciles{controller="things"} 3');
    expect(text).toContain('controller_runtime_active_workers{controller="things"} 0');
  });
});

/** A transport answering from a script, at a named API server. */
class ScriptedTransport implements Transport {
  readonly host = 'apiserver.example:6443';
  constructor(private readonly answer: (req: ApiRequest) => ApiResponse) {}
  request(req: ApiRequest): Promise<ApiResponse> {
    try {
      return Promise.resolve(this.answer(req));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }
  stream(req: StreamRequest): Promise<void> {
    req.onOpen?.();
    return Promise.resolve();
  }
}

describe('rest_client_requests_total', () => {
  it('counts requests by code, method and host as client-go does: "<error>" without an answer, a watch as a GET', async () => {
    const metrics = new RuntimeMetrics();
    const client = new KubeClient(
      new ScriptedTransport((req) => {
        if (req.path.endsWith('/down')) throw new Error('ECONNREFUSED');
        return req.verb === 'PUT' ? { status: 409, body: '{"kind":"Status","code":409}' } : { status: 200, body: '{}' };
      }),
      { metrics },
    );
    await client.request({ verb: 'GET', path: '/api/v1/namespaces/ns/configmaps/a' });
    await client.request({ verb: 'GET', path: '/api/v1/namespaces/ns/configmaps/b' });
    await expect(client.request({ verb: 'PUT', path: '/api/v1/namespaces/ns/configmaps/a', body: {} })).rejects.toThrow();
    await expect(client.request({ verb: 'GET', path: '/down' })).rejects.toThrow('ECONNREFUSED');
    await client.watch(CoreTypes.configMaps, { signal: new AbortController().signal }, () => undefined);
    const host = 'apiserver.example:6443';
    expect(await metrics.value('rest_client_requests_total', { code: '200', method: 'GET', host })).toBe(3);
    expect(await metrics.value('rest_client_requests_total', { code: '409', method: 'PUT', host })).toBe(1);
    expect(await metrics.value('rest_client_requests_total', { code: '<error>', method: 'GET', host })).toBe(1);
    expect(await metrics.registry.metrics()).toContain(`rest_client_requests_total{code="409",method="PUT",host="${host}"} 1`);
  });
});

describe('workqueue progress metrics', () => {
  it('reports the unfinished work and the longest running processor of the keys in flight at scrape time', async () => {
    const clock = new FakeClock();
    const metrics = new RuntimeMetrics();
    const queue = new WorkQueue({ name: 'q', clock, metrics });
    const labels = { name: 'q', controller: 'q' };
    queue.add('a');
    queue.add('b');
    expect(await queue.get()).toBe('a');
    clock.advance(3_000);
    expect(await queue.get()).toBe('b');
    clock.advance(2_000);
    expect(await metrics.value('workqueue_unfinished_work_seconds', labels)).toBeCloseTo(7, 6); // 5 s + 2 s
    expect(await metrics.value('workqueue_longest_running_processor_seconds', labels)).toBeCloseTo(5, 6);
    queue.done('a');
    expect(await metrics.value('workqueue_unfinished_work_seconds', labels)).toBeCloseTo(2, 6);
    expect(await metrics.value('workqueue_longest_running_processor_seconds', labels)).toBeCloseTo(2, 6);
    queue.done('b');
    expect(await metrics.value('workqueue_unfinished_work_seconds', labels)).toBe(0);
    expect(await metrics.value('workqueue_longest_running_processor_seconds', labels)).toBe(0);
  });

  it('exports depth with an empty priority, and counts every delayed add (not an immediate one) as a retry', async () => {
    const clock = new FakeClock();
    const metrics = new RuntimeMetrics();
    const queue = new WorkQueue({ name: 'q', clock, metrics });
    queue.add('a');
    queue.addAfter('b', 0);
    queue.addAfter('c', 1_000); // a requeueAfter
    queue.addRateLimited('d'); // a backoff
    expect(await metrics.registry.metrics()).toContain('workqueue_depth{name="q",controller="q",priority=""} 2');
    expect(await metrics.value('workqueue_retries_total', { name: 'q' })).toBe(2);
  });
});

describe('leader_election_master_status', () => {
  it('is 0 while campaigning, 1 while leading and 0 after stepping down, per Lease name', async () => {
    const api = new FakeApi();
    const metrics = new RuntimeMetrics();
    const clock = new FakeClock();
    const other = api.put('/apis/coordination.k8s.io/v1/namespaces/ops/leases', {
      metadata: { name: 'hsm-operator-leader', namespace: 'ops' },
      spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 15 },
    });
    expect(other.metadata.resourceVersion).toBeTruthy();
    const elector = new LeaderElector({ client: new KubeClient(api), namespace: 'ops', name: 'hsm-operator-leader', identity: 'me', clock, metrics, random: () => 0 });
    const status = () => metrics.value('leader_election_master_status', { name: 'hsm-operator-leader' });
    elector.start();
    await settle();
    expect(elector.isLeader()).toBe(false);
    expect((await metrics.registry.metrics()).includes('leader_election_master_status{name="hsm-operator-leader"} 0')).toBe(true);
    // The other holder's lease expires on our clock; the next retry takes it.
    for (let i = 0; i < 20 && !elector.isLeader(); i++) {
      clock.advance(2_000);
      await settle();
    }
    expect(elector.isLeader()).toBe(true);
    expect(await status()).toBe(1);
    await elector.stop();
    expect(await status()).toBe(0);
  });
});
