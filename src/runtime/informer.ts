/**
 * An informer: a Store kept current by one supervised Reflector per watched namespace (or one for all), with
 * event handlers. Handlers are synchronous and cheap (they enqueue keys); a throwing handler is logged and
 * never breaks the cache. Relists are diffed against the store, so handlers see the adds, updates and deletes
 * that happened while the watch was down, exactly as if they had been watched.
 */
import { realClock, sleep, type Clock } from './clock.js';
import { diffAgainstStore, Store, type CacheReader, type IndexFunc } from './cache.js';
import type { KubeClient } from './client.js';
import { errorMessage } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import type { RuntimeMetrics } from './metrics.js';
import { objectKey, resourceName, type KubeObject, type ResourceType } from './resource.js';
import type { BackoffOptions } from './backoff.js';
import { Reflector, type RelistReason } from './watch.js';

export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(old: T, obj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  type: ResourceType;
  /** Namespaces to watch; all when unset or empty. Ignored for cluster-scoped types. */
  namespaces?: string[];
  labelSelector?: string;
  fieldSelector?: string;
  /** Restart a watch silent (no event, no bookmark) for this long. Default 5 min. */
  idleTimeoutMs?: number;
  /** Full relist period; 0 disables. Default 30 min. */
  relistIntervalMs?: number;
  /** Readiness fails when the server was not heard from for this long. Default 2 x idleTimeoutMs. */
  staleAfterMs?: number;
  /** Objects for which this answers false are not kept (e.g. Secrets no controller references). */
  filter?: (obj: T) => boolean;
  /** Applied to every object before it is stored. Default: drop metadata.managedFields. */
  transform?: (obj: T) => T;
  backoff?: BackoffOptions;
  watchTimeoutSeconds?: [number, number];
  pageSize?: number;
  clock?: Clock;
  random?: () => number;
  metrics?: RuntimeMetrics;
  log?: Logger;
  /** Name in logs, metrics and readiness checks. Default: the resource name plus selectors. */
  name?: string;
  /**
   * No list and no watch at all: a store with handlers that its owner fills object by object (`observe`, `inject`),
   * e.g. Secrets read by name only. Always synced.
   */
  passive?: boolean;
}

function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _drop, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

export class Informer<T extends KubeObject = KubeObject> implements CacheReader<T> {
  readonly store = new Store<T>();
  readonly type: ResourceType;
  readonly name: string;
  private readonly handlers = new Set<EventHandlers<T>>();
  private readonly reflectors: Reflector<T>[];
  private readonly filter: (obj: T) => boolean;
  private readonly transform: (obj: T) => T;
  private readonly staleAfterMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: RuntimeMetrics | undefined;
  private started = false;

  constructor(options: InformerOptions<T>) {
    this.type = options.type;
    const scope = [options.labelSelector && `l=${options.labelSelector}`, options.fieldSelector && `f=${options.fieldSelector}`].filter(Boolean).join(',');
    this.name = options.name ?? (scope ? `${resourceName(options.type)}[${scope}]` : resourceName(options.type));
    this.filter = options.filter ?? (() => true);
    this.transform = options.transform ?? stripManagedFields;
    this.clock = options.clock ?? realClock;
    this.log = (options.log ?? silentLogger).child({ informer: this.name });
    this.metrics = options.metrics;
    const idle = options.idleTimeoutMs ?? 5 * 60_000;
    this.staleAfterMs = options.staleAfterMs ?? 2 * idle;
    const namespaces = options.type.namespaced && options.namespaces?.length ? [...new Set(options.namespaces)] : [undefined];
    this.reflectors = (options.passive ? [] : namespaces).map(
      (namespace) =>
        new Reflector<T>(
          {
            client: options.client,
            type: options.type,
            namespace,
            labelSelector: options.labelSelector,
            fieldSelector: options.fieldSelector,
            idleTimeoutMs: idle,
            relistIntervalMs: options.relistIntervalMs ?? 30 * 60_000,
            ...(options.backoff ? { backoff: options.backoff } : {}),
            ...(options.watchTimeoutSeconds ? { watchTimeoutSeconds: options.watchTimeoutSeconds } : {}),
            ...(options.pageSize ? { pageSize: options.pageSize } : {}),
            clock: this.clock,
            random: options.random ?? Math.random,
            metrics: options.metrics,
            log: this.log,
          },
          this.sinkFor(namespace),
        ),
    );
  }

  /** Registers handlers; returns a function that removes them. Objects already cached are replayed as adds. */
  addHandlers(h: EventHandlers<T>): () => void {
    this.handlers.add(h);
    if (this.started) for (const obj of this.store.list()) this.call(h, 'onAdd', () => h.onAdd?.(obj));
    return () => this.handlers.delete(h);
  }

  addIndex(name: string, fn: IndexFunc<T>): void {
    this.store.addIndex(name, fn);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.metrics?.addStalenessSource(this.name, () => this.staleness() / 1000);
    for (const r of this.reflectors) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
    this.metrics?.removeStalenessSource(this.name);
    this.started = false;
  }

  /** True once every watched scope was listed completely at least once. */
  hasSynced(): boolean {
    return this.reflectors.every((r) => r.hasSynced);
  }

  /** Resolves once synced; rejects after `timeoutMs` or when `signal` aborts. */
  async waitForSync(timeoutMs = 60_000, signal?: AbortSignal): Promise<void> {
    const deadline = this.clock.now() + timeoutMs;
    while (!this.hasSynced()) {
      if (signal?.aborted) throw new Error(`${this.name}: stopped before the cache synced`);
      if (this.clock.now() >= deadline) throw new Error(`${this.name}: cache not synced within ${timeoutMs} ms`);
      await sleep(this.clock, 25, signal);
    }
  }

  /** Milliseconds since the least recently heard-from scope heard from the server. */
  staleness(): number {
    return Math.max(0, ...this.reflectors.map((r) => r.staleness()));
  }

  /** Why this cache can't be trusted right now, or undefined when it can (the /readyz check). */
  unhealthyReason(): string | undefined {
    if (!this.hasSynced()) return 'not synced';
    const s = this.staleness();
    if (s > this.staleAfterMs) return `stale: nothing heard for ${Math.round(s / 1000)} s`;
    return undefined;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }
  list(namespace?: string): T[] {
    return this.store.list(namespace);
  }
  keys(): string[] {
    return this.store.keys();
  }
  byIndex(index: string, value: string): T[] {
    return this.store.byIndex(index, value);
  }
  get size(): number {
    return this.store.size;
  }

  /**
   * Stores an object read directly from the API (e.g. a Secret that just became interesting and was filtered
   * out until now). An already cached object wins: the watch is the fresher source.
   */
  inject(obj: T): void {
    const stored = this.transform(obj);
    if (this.store.has(objectKey(stored)) || !this.filter(stored)) return;
    this.store.upsert(stored);
    this.emitAdd(stored);
  }

  /**
   * One object as a direct read found it (a passive informer's re-read): stored and announced like a watch event,
   * `undefined` meaning it is gone. No event when the resourceVersion is the one already stored.
   */
  observe(key: string, obj: T | undefined): void {
    if (obj === undefined) {
      const old = this.store.remove(key);
      if (old) this.emitDelete(old);
      return;
    }
    const stored = this.transform(obj);
    if (!this.filter(stored)) return;
    const old = this.store.upsert(stored);
    if (!old) this.emitAdd(stored);
    else if (old.metadata?.resourceVersion !== stored.metadata?.resourceVersion) this.emitUpdate(old, stored);
  }

  private sinkFor(namespace: string | undefined) {
    const inScope = (o: T) => namespace === undefined || o.metadata?.namespace === namespace;
    return {
      replace: (objects: T[], reason: RelistReason) => {
        const kept = objects.map(this.transform).filter(this.filter);
        const diff = diffAgainstStore(this.store, kept, inScope);
        for (const o of diff.deleted) this.store.remove(objectKey(o));
        for (const o of diff.added) this.store.upsert(o);
        for (const u of diff.updated) this.store.upsert(u.obj);
        if (reason !== 'initial' && (diff.added.length || diff.updated.length || diff.deleted.length)) {
          this.log.info({ reason, added: diff.added.length, updated: diff.updated.length, deleted: diff.deleted.length }, 'relist found changes the watch had not delivered');
        }
        for (const o of diff.deleted) this.emitDelete(o);
        for (const o of diff.added) this.emitAdd(o);
        for (const u of diff.updated) this.emitUpdate(u.old, u.obj);
      },
      apply: (type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: T) => {
        const obj = this.transform(raw);
        const key = objectKey(obj);
        if (type === 'DELETED' || !this.filter(obj)) {
          const old = this.store.remove(key);
          if (old) this.emitDelete(type === 'DELETED' ? obj : old);
          return;
        }
        const old = this.store.upsert(obj);
        if (!old) this.emitAdd(obj);
        else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emitUpdate(old, obj);
      },
    };
  }

  private emitAdd(obj: T): void {
    for (const h of this.handlers) this.call(h, 'onAdd', () => h.onAdd?.(obj));
  }
  private emitUpdate(old: T, obj: T): void {
    for (const h of this.handlers) this.call(h, 'onUpdate', () => h.onUpdate?.(old, obj));
  }
  private emitDelete(obj: T): void {
    for (const h of this.handlers) this.call(h, 'onDelete', () => h.onDelete?.(obj));
  }

  private call(_h: EventHandlers<T>, what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error({ handler: what, err: errorMessage(e) }, 'event handler threw; the cache is unaffected');
    }
  }
}
