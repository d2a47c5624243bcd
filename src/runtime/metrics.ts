/**
 * Prometheus metrics of the runtime, named, labelled and bucketed as controller-runtime (v0.24) and client-go
 * export them, so existing dashboards and alerts work unchanged: controller_runtime_* from
 * pkg/internal/controller/metrics, workqueue_* from pkg/internal/metrics/workqueue.go, rest_client_requests_total
 * from pkg/metrics/client_go_adapter.go, leader_election_master_status from pkg/metrics/leaderelection.go. Plus the
 * watch-health metrics that controller-runtime lacks (hsm_operator_*). One registry per Manager (not prom-client's
 * global one), so two managers in one process (tests, leader-election drills) never collide.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';

// controller-runtime's reconcile_time buckets.
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4,
  4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// controller-runtime's workqueue buckets (since v0.17): 10 ns .. 1000 s.
const queueBuckets = exponentialBuckets(10e-9, 10, 12);

export const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
export type ReconcileResult = (typeof RECONCILE_RESULTS)[number];

/** What a work queue reports at scrape time about the keys its workers hold. */
export interface QueueProgress {
  /** Seconds the in-flight keys have been processed so far, summed. */
  unfinishedSeconds: number;
  /** Seconds the longest in-flight key has been processed (0 when none is). */
  longestSeconds: number;
}

export class RuntimeMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileTerminalErrors: Counter<'controller'>;
  readonly reconcilePanics: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  readonly queueDepth: Gauge<'name' | 'controller' | 'priority'>;
  readonly queueAdds: Counter<'name' | 'controller'>;
  readonly queueDuration: Histogram<'name' | 'controller'>;
  readonly workDuration: Histogram<'name' | 'controller'>;
  readonly queueRetries: Counter<'name' | 'controller'>;
  readonly unfinishedWork: Gauge<'name' | 'controller'>;
  readonly longestRunningProcessor: Gauge<'name' | 'controller'>;
  readonly restRequests: Counter<'code' | 'method' | 'host'>;
  readonly watchRestarts: Counter<'resource' | 'reason'>;
  readonly watchRelists: Counter<'resource' | 'reason'>;
  readonly cacheStaleness: Gauge<'resource'>;
  readonly leader: Gauge<'lease'>;
  readonly leaderElectionMasterStatus: Gauge<'name'>;
  readonly eventsDropped: Counter<'reason'>;
  private readonly staleness = new Map<string, () => number>();
  private readonly queues = new Map<string, () => QueueProgress>();

  constructor(options: { registry?: Registry; processMetrics?: boolean } = {}) {
    const registry = (this.registry = options.registry ?? new Registry());
    if (options.processMetrics) collectDefaultMetrics({ register: registry });
    const registers = [registry];
    this.reconcileTotal = new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers });
    this.reconcileErrors = new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers });
    this.reconcileTerminalErrors = new Counter({ name: 'controller_runtime_terminal_reconcile_errors_total', help: 'Total number of terminal reconciliation errors per controller', labelNames: ['controller'], registers });
    this.reconcilePanics = new Counter({ name: 'controller_runtime_reconcile_panics_total', help: 'Total number of reconciliation panics per controller', labelNames: ['controller'], registers });
    this.reconcileTime = new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller', labelNames: ['controller'], buckets: reconcileBuckets, registers });
    this.activeWorkers = new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers });
    this.maxConcurrentReconciles = new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers });
    // `priority` is empty for a plain (not priority) queue, as controller-runtime exports it.
    this.queueDepth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue by workqueue and priority', labelNames: ['name', 'controller', 'priority'], registers });
    this.queueAdds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name', 'controller'], registers });
    this.queueDuration = new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames: ['name', 'controller'], buckets: queueBuckets, registers });
    this.workDuration = new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames: ['name', 'controller'], buckets: queueBuckets, registers });
    this.queueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of items added to the workqueue with a non-zero delay (rate-limited requeues, explicit RequeueAfter or AddAfter calls)',
      labelNames: ['name', 'controller'],
      registers,
    });
    const queues = this.queues;
    const progress = () => [...queues].map(([name, read]) => ({ labels: { name, controller: name }, ...read() }));
    this.unfinishedWork = new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      labelNames: ['name', 'controller'],
      registers,
      collect() {
        for (const p of progress()) this.set(p.labels, p.unfinishedSeconds);
      },
    });
    this.longestRunningProcessor = new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: ['name', 'controller'],
      registers,
      collect() {
        for (const p of progress()) this.set(p.labels, p.longestSeconds);
      },
    });
    // client-go's labels: code is the HTTP status or "<error>" when no answer came; method the HTTP method (a
    // watch is a GET); host the API server's host:port.
    this.restRequests = new Counter({ name: 'rest_client_requests_total', help: 'Number of HTTP requests, partitioned by status code, method, and host.', labelNames: ['code', 'method', 'host'], registers });
    this.watchRestarts = new Counter({ name: 'hsm_operator_watch_restarts_total', help: 'Watches restarted after an error or an idle period', labelNames: ['resource', 'reason'], registers });
    this.watchRelists = new Counter({ name: 'hsm_operator_watch_relists_total', help: 'Full lists of a watched resource (initial, 410 Gone, periodic)', labelNames: ['resource', 'reason'], registers });
    const staleness = this.staleness;
    this.cacheStaleness = new Gauge({
      name: 'hsm_operator_cache_staleness_seconds',
      help: 'Seconds since a cache last heard from the API server (event, bookmark, list or watch start)',
      labelNames: ['resource'],
      registers,
      collect() {
        for (const [resource, read] of staleness) this.set({ resource }, read());
      },
    });
    this.leader = new Gauge({ name: 'hsm_operator_leader', help: '1 while this instance holds the leader Lease', labelNames: ['lease'], registers });
    this.leaderElectionMasterStatus = new Gauge({
      name: 'leader_election_master_status',
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
      labelNames: ['name'],
      registers,
    });
    this.eventsDropped = new Counter({ name: 'hsm_operator_events_dropped_total', help: 'Kubernetes Events not written (rate limit, API error)', labelNames: ['reason'], registers });
  }

  /** Registers a staleness reading (in seconds) for a cache; read at scrape time. */
  addStalenessSource(resource: string, read: () => number): void {
    this.staleness.set(resource, read);
  }

  removeStalenessSource(resource: string): void {
    this.staleness.delete(resource);
    this.cacheStaleness.remove({ resource });
  }

  /**
   * Starts a controller's series at zero, as controller-runtime does, so `increase()` sees the first error of a
   * fresh process and dashboards show the controller before anything happened.
   */
  initController(controller: string, concurrency: number): void {
    for (const result of RECONCILE_RESULTS) this.reconcileTotal.inc({ controller, result }, 0);
    for (const c of [this.reconcileErrors, this.reconcileTerminalErrors, this.reconcilePanics]) c.inc({ controller }, 0);
    this.maxConcurrentReconciles.set({ controller }, concurrency);
    this.activeWorkers.inc({ controller }, 0); // not set(0): workers of a stop that hit its deadline may still run
  }

  /** Registers a work queue's in-flight progress, read at scrape time; a queue of the same name replaces it. */
  addQueueSource(name: string, read: () => QueueProgress): void {
    this.queues.set(name, read);
  }

  /** The value of one counter or gauge sample, for tests and self-checks. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return 0;
    const got = await metric.get();
    let sum = 0;
    for (const v of got.values) {
      const l = v.labels as Record<string, string | number>;
      if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
    }
    return sum;
  }
}

/** Serves the registry at `/metrics`. */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (new URL(req.url ?? '/', 'http://metrics').pathname !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
  };
}
