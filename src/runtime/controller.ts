/**
 * A controller: a reconciler fed by a work queue, which is fed by informers. The primary informer (`for`)
 * enqueues an object's own key; `watches` map changes of other types (or of the same type) to the keys they
 * affect, e.g. a DedicatedHsm change -> the keys of the bindings that reference it, computed from a cache.
 *
 * The reconcile contract: `reconcile(key, ctx)` reads the object from the cache (absent = deleted), acts, and
 * resolves with nothing (done), `{ requeueAfter }` (look again later) or `{ requeue: true }` (back off and
 * retry), or throws: `TerminalError` (no retry until the object changes), `RetryableError` (retry, not before
 * `retryAfterMs`), anything else (retry with backoff). Results, errors and durations become metrics and logs.
 *
 * A throw the reconciler did not mean (see `isPanic`: a non-Error value or one of the engine's own bug errors,
 * TypeError and friends) is Go's panic: counted in `controller_runtime_reconcile_panics_total`, then handled as an
 * error (retried with backoff), as controller-runtime does with RecoverPanic. Every reconcile gets a fresh
 * `reconcileID`, bound with `namespace` and `name` to the logger it is handed, so one reconcile's lines can be
 * picked out of the log.
 */
import { randomUUID } from 'node:crypto';
import { jitterUp } from './backoff.js';
import { realClock, type CancelTimer, type Clock } from './clock.js';
import { AbortedError, errorMessage, RetryableError, TerminalError } from './errors.js';
import type { EventHandlers } from './informer.js';
import { silentLogger, type Logger } from './log.js';
import type { ReconcileResult, RuntimeMetrics } from './metrics.js';
import type { RateLimiter } from './ratelimit.js';
import { objectKey, splitKey, type KubeObject } from './resource.js';
import { WorkQueue } from './workqueue.js';

export interface ReconcileContext {
  controller: string;
  key: string;
  namespace: string | undefined;
  name: string;
  /** Failures of this key since its last success (0 on a first attempt). */
  attempt: number;
  /** Unique to this reconcile (a UUID), as controller-runtime's reconcileID. */
  reconcileID: string;
  /** A logger bound to the controller, the key, its namespace and name, and the reconcileID. */
  log: Logger;
  /** Aborts when the controller stops and its drain deadline has passed (or leadership is lost). */
  signal: AbortSignal;
}

export type ReconcileOutcome = { requeueAfter?: number; requeue?: boolean } | void | undefined;

export interface Reconciler {
  reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileOutcome>;
}

export type ReconcileFn = (key: string, ctx: ReconcileContext) => Promise<ReconcileOutcome>;

/** Anything that delivers add/update/delete events (an Informer). */
export interface EventSource<S> {
  addHandlers(h: EventHandlers<S>): () => void;
}

const BUG_ERRORS = [TypeError, ReferenceError, RangeError, SyntaxError, EvalError, URIError];

/**
 * Whether a value thrown out of a reconciler is a panic rather than an error it meant to report: anything that is
 * not an Error, or an error the engine raises for a bug (`x.y` of undefined, an unknown name, a bad argument).
 * Not a TypeError that wraps a system error as its cause (`fetch failed` around ECONNRESET): that is the network.
 */
export function isPanic(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if (!BUG_ERRORS.some((t) => e instanceof t)) return false;
  const cause = e.cause as { code?: unknown } | undefined;
  return !(e instanceof TypeError && cause instanceof Error && typeof cause.code === 'string');
}

export interface WatchSpec {
  source: EventSource<KubeObject>;
  /** Keys of the controller's objects that an event on `obj` affects. */
  map: (obj: KubeObject) => string[];
  /** Only updates for which this answers true enqueue (default: all). */
  onUpdate?: (old: KubeObject, obj: KubeObject) => boolean;
}

/** Declares a watch of another type, keeping the mapping function typed. */
export function watchOf<S extends KubeObject>(source: EventSource<S>, map: (obj: S) => string[], onUpdate?: (old: S, obj: S) => boolean): WatchSpec {
  return {
    source: source as unknown as EventSource<KubeObject>,
    map: map as (obj: KubeObject) => string[],
    ...(onUpdate ? { onUpdate: onUpdate as (old: KubeObject, obj: KubeObject) => boolean } : {}),
  };
}

/** Update filter: the spec changed (generation), or labels, annotations, finalizers or deletion did. */
export function specOrMetadataChanged(old: KubeObject, obj: KubeObject): boolean {
  const a = old.metadata ?? {};
  const b = obj.metadata ?? {};
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {}) ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? [])
  );
}

export interface ControllerOptions<T extends KubeObject> {
  name: string;
  /** The primary type: its events enqueue the object's own key. */
  for: EventSource<T>;
  /** Which primary updates enqueue (default: every change of resourceVersion, status included). */
  onUpdate?: (old: T, obj: T) => boolean;
  watches?: WatchSpec[];
  reconciler: Reconciler | ReconcileFn;
  /** Workers; keys still never run concurrently with themselves. Default 1. */
  concurrency?: number;
  /** Keys to enqueue when the controller starts (default: none; the Manager passes the primary cache's keys). */
  initialKeys?: () => string[];
  /** Re-enqueue `initialKeys` this often (jittered by up to 10%), so every object is looked at again; 0 disables. */
  resyncIntervalMs?: number;
  rateLimiter?: () => RateLimiter;
  clock?: Clock;
  metrics?: RuntimeMetrics;
  log?: Logger;
}

export class Controller<T extends KubeObject = KubeObject> {
  readonly name: string;
  readonly concurrency: number;
  private readonly reconcileFn: ReconcileFn;
  private readonly clock: Clock;
  private readonly metrics: RuntimeMetrics | undefined;
  private readonly log: Logger;
  private queue: WorkQueue | undefined;
  private workers: Promise<void>[] = [];
  private abort: AbortController | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private cancelResync: CancelTimer | undefined;

  constructor(private readonly options: ControllerOptions<T>) {
    this.name = options.name;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    const r = options.reconciler;
    this.reconcileFn = typeof r === 'function' ? r : (key, ctx) => r.reconcile(key, ctx);
    this.clock = options.clock ?? realClock;
    this.metrics = options.metrics;
    this.log = (options.log ?? silentLogger).child({ controller: this.name });
    const own = (obj: T) => this.enqueue(objectKey(obj));
    this.unsubscribe.push(
      options.for.addHandlers({
        onAdd: own,
        onUpdate: (old, obj) => {
          if (!options.onUpdate || options.onUpdate(old, obj)) own(obj);
        },
        onDelete: own,
      }),
    );
    for (const w of options.watches ?? []) {
      const mapped = (obj: KubeObject) => {
        let keys: string[] = [];
        try {
          keys = w.map(obj);
        } catch (e) {
          this.log.error({ err: errorMessage(e), object: objectKey(obj) }, 'watch mapping function threw');
        }
        for (const k of keys) this.enqueue(k);
      };
      this.unsubscribe.push(
        w.source.addHandlers({
          onAdd: mapped,
          onUpdate: (old, obj) => {
            if (!w.onUpdate || w.onUpdate(old, obj)) {
              mapped(old);
              mapped(obj);
            }
          },
          onDelete: mapped,
        }),
      );
    }
  }

  get running(): boolean {
    return this.queue !== undefined && !this.queue.isShuttingDown;
  }

  /** The live queue (undefined while stopped), for inspection. */
  get workQueue(): WorkQueue | undefined {
    return this.queue;
  }

  /** Queues a key; ignored while the controller is stopped (e.g. not the leader). */
  enqueue(key: string): void {
    this.queue?.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    this.queue?.addAfter(key, delayMs);
  }

  /** Starts the workers with a fresh queue, seeded with `initialKeys`. Restartable after `stop`. */
  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    const queue = new WorkQueue({
      name: this.name,
      clock: this.clock,
      ...(this.options.rateLimiter ? { rateLimiter: this.options.rateLimiter() } : {}),
      ...(this.metrics ? { metrics: this.metrics } : {}),
    });
    this.queue = queue;
    this.metrics?.initController(this.name, this.concurrency);
    for (const k of this.options.initialKeys?.() ?? []) queue.add(k);
    const signal = this.abort.signal;
    this.workers = Array.from({ length: this.concurrency }, () => this.worker(queue, signal));
    this.scheduleResync(queue);
    this.log.info({ concurrency: this.concurrency }, 'controller started');
  }

  /**
   * Stops intake and waits up to `deadlineMs` for in-flight reconciles; then aborts their signal. Resolves true
   * when everything in flight finished within the deadline.
   */
  async stop(deadlineMs = 30_000): Promise<boolean> {
    const queue = this.queue;
    if (!queue) return true;
    this.cancelResync?.();
    this.cancelResync = undefined;
    const drained = await queue.drain(deadlineMs);
    if (!drained) this.log.warn({ inFlight: queue.inFlight, deadlineMs }, 'reconciles still running at the shutdown deadline; aborting them');
    this.abort?.abort(new AbortedError('controller stopped'));
    if (drained) await Promise.all(this.workers);
    this.workers = [];
    this.queue = undefined;
    this.log.info({ drained }, 'controller stopped');
    return drained;
  }

  private scheduleResync(queue: WorkQueue): void {
    const every = this.options.resyncIntervalMs ?? 0;
    if (!(every > 0) || !this.options.initialKeys) return;
    this.cancelResync = this.clock.setTimeout(() => {
      if (queue.isShuttingDown) return;
      for (const k of this.options.initialKeys?.() ?? []) queue.add(k);
      this.scheduleResync(queue);
    }, jitterUp(every, 0.1));
  }

  /** Removes the event handlers from the informers (for a controller that is thrown away). */
  dispose(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private async worker(queue: WorkQueue, signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await this.process(queue, key, signal);
      } catch (e) {
        // Only a bug in the runtime gets here; the worker must live on, and the key is retried.
        this.metrics?.reconcilePanics.inc({ controller: this.name });
        this.log.error({ err: e, key }, 'worker caught an error outside the reconciler; retrying the key');
        if (!queue.isShuttingDown) queue.addAfter(key, queue.nextBackoff(key));
      } finally {
        queue.done(key);
      }
    }
  }

  private async process(queue: WorkQueue, key: string, signal: AbortSignal): Promise<void> {
    const labels = { controller: this.name };
    const { namespace, name } = splitKey(key);
    const reconcileID = randomUUID();
    // Cluster-scoped objects log namespace "" (as controller-runtime does), so every line has the field.
    const log = this.log.child({ key, namespace: namespace ?? '', name, reconcileID });
    const attempt = queue.numRequeues(key);
    const started = this.clock.now();
    this.metrics?.activeWorkers.inc(labels);
    let result: ReconcileResult = 'success';
    try {
      const out = await this.reconcileFn(key, { controller: this.name, key, namespace, name, attempt, reconcileID, log, signal });
      if (out?.requeueAfter !== undefined && out.requeueAfter > 0) {
        queue.forget(key);
        queue.addAfter(key, out.requeueAfter);
        result = 'requeue_after';
      } else if (out?.requeue) {
        queue.addRateLimited(key);
        result = 'requeue';
      } else {
        queue.forget(key);
      }
    } catch (e) {
      result = 'error';
      this.metrics?.reconcileErrors.inc(labels);
      const panicked = isPanic(e);
      if (panicked) this.metrics?.reconcilePanics.inc(labels);
      if (panicked && !signal.aborted) {
        const backoff = queue.nextBackoff(key);
        queue.addAfter(key, backoff);
        log.error({ err: e instanceof Error ? e : String(e), attempt, retryInMs: Math.round(backoff) }, 'reconciler panicked; retrying');
      } else if (e instanceof TerminalError) {
        this.metrics?.reconcileTerminalErrors.inc(labels);
        queue.forget(key);
        log.error({ err: e, attempt }, 'reconcile failed; not retrying until the object changes');
      } else if (signal.aborted) {
        log.info({ err: errorMessage(e) }, 'reconcile aborted by shutdown');
      } else {
        const backoff = queue.nextBackoff(key);
        const delay = e instanceof RetryableError && e.retryAfterMs !== undefined ? Math.max(e.retryAfterMs, backoff) : backoff;
        queue.addAfter(key, delay);
        log.warn({ err: e, attempt, retryInMs: Math.round(delay) }, 'reconcile failed; retrying');
      }
    } finally {
      const seconds = (this.clock.now() - started) / 1000;
      this.metrics?.activeWorkers.dec(labels);
      this.metrics?.reconcileTotal.inc({ controller: this.name, result });
      this.metrics?.reconcileTime.observe(labels, seconds);
      log.debug({ result, durationMs: Math.round(seconds * 1000), attempt }, 'reconciled');
    }
  }
}
