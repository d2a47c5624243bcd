/**
 * The work queue between event handlers and reconcilers (client-go semantics):
 * - a key waiting in the queue is held once, however often it is added;
 * - a key is handed to one worker at a time: added while in flight, it is queued again when `done` is called;
 * - `addAfter` delays a key (the earliest pending delay wins); `addRateLimited` delays it by its backoff;
 * - `shutDown` stops intake at once; in-flight items finish, queued ones are dropped (the next start or leader
 *   relists everything anyway), and `drain(deadline)` waits for the in-flight ones.
 * Its metrics are client-go's (as controller-runtime registers them): depth, adds, queue and work durations,
 * retries, and, read at scrape time, the unfinished work and the longest running processor of the keys in flight.
 */
import { realClock, type CancelTimer, type Clock } from './clock.js';
import type { RuntimeMetrics } from './metrics.js';
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimit.js';

export interface WorkQueueOptions {
  /** Queue (controller) name in metrics. */
  name: string;
  clock?: Clock;
  rateLimiter?: RateLimiter;
  metrics?: RuntimeMetrics;
}

export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly metrics: RuntimeMetrics | undefined;
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private readonly waiting = new Map<string, { at: number; cancel: CancelTimer }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? realClock;
    this.limiter = options.rateLimiter ?? defaultControllerRateLimiter(this.clock);
    this.metrics = options.metrics;
    this.metrics?.addQueueSource(this.name, () => this.progress());
  }

  private get labels() {
    return { name: this.name, controller: this.name };
  }

  private get depthLabels() {
    return { ...this.labels, priority: '' };
  }

  /** Seconds of work in flight, summed and longest (client-go's unfinished work and longest running processor). */
  progress(): { unfinishedSeconds: number; longestSeconds: number } {
    const now = this.clock.now();
    let unfinished = 0;
    let longest = 0;
    for (const started of this.processing.values()) {
      const s = Math.max(0, now - started) / 1000;
      unfinished += s;
      longest = Math.max(longest, s);
    }
    return { unfinishedSeconds: unfinished, longestSeconds: longest };
  }

  /** Keys queued and not yet handed out. */
  get length(): number {
    return this.queue.length;
  }

  /** Keys currently handed to workers. */
  get inFlight(): number {
    return this.processing.size;
  }

  /** Keys waiting for a delay (`addAfter`, `addRateLimited`). */
  get delayed(): number {
    return this.waiting.size;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.clock.now());
    this.metrics?.queueAdds.inc(this.labels);
    if (this.processing.has(key)) return; // queued again by done()
    this.push(key);
  }

  private push(key: string): void {
    const getter = this.getters.shift();
    if (getter) {
      this.handOut(key);
      getter(key);
      return;
    }
    this.queue.push(key);
    this.metrics?.queueDepth.set(this.depthLabels, this.queue.length);
  }

  private handOut(key: string): void {
    this.dirty.delete(key);
    const now = this.clock.now();
    this.processing.set(key, now);
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) this.metrics?.queueDuration.observe(this.labels, (now - added) / 1000);
  }

  /**
   * Adds `key` after `delayMs`; when a delay is already pending for it, the earlier one wins. Every delayed add is a
   * retry in `workqueue_retries_total` (backoffs, requeueAfter), as controller-runtime counts them.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    this.metrics?.queueRetries.inc(this.labels);
    const at = this.clock.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const cancel = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { at, cancel });
  }

  /** Adds `key` after its backoff; returns the delay chosen. */
  addRateLimited(key: string): number {
    if (this.shuttingDown) return 0;
    const delay = this.limiter.when(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** The next backoff `key` would get, recorded as a failure (for callers that combine it with their own delay). */
  nextBackoff(key: string): number {
    return this.limiter.when(key);
  }

  /** Clears the failure history of `key`: its next failure starts the backoff afresh. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.failures(key);
  }

  /** The next key to work on; undefined once the queue is shut down. The caller must call `done(key)`. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.metrics?.queueDepth.set(this.depthLabels, this.queue.length);
      this.handOut(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks `key` finished; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics?.workDuration.observe(this.labels, (this.clock.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    if (this.processing.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Stops intake: adds are ignored, delayed keys cancelled, queued keys dropped, idle workers released. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const w of this.waiting.values()) w.cancel();
    this.waiting.clear();
    this.queue.length = 0;
    this.dirty.clear();
    this.addedAt.clear();
    this.metrics?.queueDepth.set(this.depthLabels, 0);
    for (const g of this.getters.splice(0)) g(undefined);
  }

  /** Shuts down and waits for in-flight keys to be done; false if `deadlineMs` passed first. */
  async drain(deadlineMs: number): Promise<boolean> {
    this.shutDown();
    if (this.processing.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const cancel = this.clock.setTimeout(() => resolve(false), deadlineMs);
      this.idleWaiters.push(() => {
        cancel();
        resolve(true);
      });
    });
  }
}
