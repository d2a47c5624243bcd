/**
 * A supervised list+watch loop for one resource scope (type + optional namespace + selectors): the part of an
 * informer that talks to the API server. It never gives up and never stalls unnoticed:
 * - errors restart the watch from the last resourceVersion after a jittered exponential backoff;
 * - 410 Gone (as an HTTP answer or as an ERROR event) and "too large resource version" trigger a full relist;
 * - a watch that delivered nothing, not even a bookmark, for `idleTimeoutMs` is torn down and restarted;
 * - every `relistIntervalMs` the watch is replaced by a full list, diffed against the store by the sink.
 */
import { between, jitteredBackoff, type BackoffOptions } from './backoff.js';
import { realClock, sleep, type Clock } from './clock.js';
import type { KubeClient } from './client.js';
import { ApiError, errorMessage, isGone } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import type { RuntimeMetrics } from './metrics.js';
import { resourceName, type KubeObject, type ResourceType } from './resource.js';

export type RelistReason = 'initial' | 'gone' | 'periodic' | 'error';
export type RestartReason = 'error' | 'idle' | 'closed';

/** Where a reflector delivers what it learns. */
export interface ReflectorSink<T extends KubeObject> {
  /** A full list of the scope completed: the scope now holds exactly `objects`. */
  replace(objects: T[], reason: RelistReason): void;
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
}

export interface ReflectorOptions {
  client: KubeClient;
  type: ResourceType;
  /** Namespace to list and watch; all namespaces when unset (or for cluster-scoped types). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Restart a watch that delivered nothing (no event, no bookmark) for this long. Default 5 min. */
  idleTimeoutMs?: number;
  /** Replace the watch by a full list this often; 0 disables. Default 30 min. */
  relistIntervalMs?: number;
  /** Server-side watch timeout, picked at random in this range per watch so replicas don't sync up. Default 5..10 min. */
  watchTimeoutSeconds?: [number, number];
  /** Page size of lists. Default 500. */
  pageSize?: number;
  backoff?: BackoffOptions;
  clock?: Clock;
  random?: () => number;
  metrics?: RuntimeMetrics;
  log?: Logger;
}

class IdleTimeout extends Error {
  override readonly name = 'IdleTimeout';
}
class RelistDue extends Error {
  override readonly name = 'RelistDue';
}
class Stopped extends Error {
  override readonly name = 'Stopped';
}

function tooLargeResourceVersion(e: unknown): boolean {
  return e instanceof ApiError && /too large resource version/i.test(e.message);
}

export class Reflector<T extends KubeObject = KubeObject> {
  private readonly opts: Required<Omit<ReflectorOptions, 'namespace' | 'labelSelector' | 'fieldSelector' | 'metrics'>> &
    Pick<ReflectorOptions, 'namespace' | 'labelSelector' | 'fieldSelector' | 'metrics'>;
  private readonly resource: string;
  private stopController: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private resourceVersion: string | undefined;
  private lastContactAt: number;
  private synced = false;

  constructor(
    options: ReflectorOptions,
    private readonly sink: ReflectorSink<T>,
  ) {
    this.opts = {
      idleTimeoutMs: 5 * 60_000,
      relistIntervalMs: 30 * 60_000,
      watchTimeoutSeconds: [300, 600],
      pageSize: 500,
      backoff: { initialMs: 800, maxMs: 30_000 },
      clock: realClock,
      random: Math.random,
      log: silentLogger,
      ...options,
    };
    this.resource = resourceName(options.type);
    this.lastContactAt = this.opts.clock.now();
  }

  /** True once the first full list was delivered. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /** The last resourceVersion seen (list, event or bookmark). */
  get lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  /** Milliseconds since the server was last heard from (list, watch start, event or bookmark). */
  staleness(): number {
    return Math.max(0, this.opts.clock.now() - this.lastContactAt);
  }

  get running(): boolean {
    return this.loop !== undefined;
  }

  start(): void {
    if (this.loop) return;
    this.stopController = new AbortController();
    this.lastContactAt = this.opts.clock.now();
    this.loop = this.run(this.stopController.signal);
  }

  async stop(): Promise<void> {
    this.stopController?.abort(new Stopped('reflector stopped'));
    await this.loop;
    this.loop = undefined;
  }

  private contact(): void {
    this.lastContactAt = this.opts.clock.now();
  }

  private async run(stop: AbortSignal): Promise<void> {
    const { clock, log } = this.opts;
    let needList: RelistReason | undefined = 'initial';
    let failures = 0;
    let nextRelistAt = Infinity;
    while (!stop.aborted) {
      try {
        if (needList) {
          await this.listAll(stop, needList);
          needList = undefined;
          failures = 0;
          nextRelistAt = this.opts.relistIntervalMs > 0 ? clock.now() + this.opts.relistIntervalMs : Infinity;
        }
        const started = clock.now();
        const outcome = await this.watchOnce(stop, nextRelistAt - clock.now(), () => (failures = 0));
        if (outcome.ended === 'relist') {
          needList = 'periodic';
          continue;
        }
        if (outcome.ended === 'idle') {
          this.opts.metrics?.watchRestarts.inc({ resource: this.resource, reason: 'idle' });
          log.warn({ resource: this.resource, namespace: this.opts.namespace, idleMs: this.opts.idleTimeoutMs }, 'watch idle too long; restarting it');
          continue;
        }
        // The server ended the watch (its timeout). A watch that closes at once, again and again, is a fault.
        if (outcome.events === 0 && clock.now() - started < 1000) throw new Error('watch closed immediately');
      } catch (e) {
        if (stop.aborted) break;
        if (isGone(e) || tooLargeResourceVersion(e)) {
          log.info({ resource: this.resource, namespace: this.opts.namespace, err: errorMessage(e) }, 'resourceVersion expired; relisting');
          needList = 'gone';
          // Gone is the normal way to learn about compaction: relist at once, unless relisting itself keeps failing.
          if (failures === 0) {
            failures++;
            continue;
          }
        } else if (needList) {
          needList = needList === 'initial' ? 'initial' : 'error';
        }
        failures++;
        this.opts.metrics?.watchRestarts.inc({ resource: this.resource, reason: 'error' });
        // Exponential, with full jitter on top: in [d, 2d), capped.
        const delay = jitteredBackoff(failures - 1, { ...this.opts.backoff, jitter: 1 }, this.opts.random);
        log.warn({ resource: this.resource, namespace: this.opts.namespace, err: errorMessage(e), failures, retryInMs: Math.round(delay) }, 'list/watch failed; retrying');
        await sleep(clock, delay, stop);
      }
    }
  }

  /** Lists every page of the scope and hands the complete result to the sink. */
  private async listAll(stop: AbortSignal, reason: RelistReason): Promise<void> {
    this.opts.metrics?.watchRelists.inc({ resource: this.resource, reason });
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      if (stop.aborted) throw new Stopped('stopped');
      const page = await this.opts.client.list<T>(this.opts.type, {
        namespace: this.opts.namespace,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        limit: this.opts.pageSize,
        continue: cont,
      });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    if (stop.aborted) throw new Stopped('stopped');
    this.resourceVersion = rv;
    this.contact();
    this.sink.replace(items, reason);
    this.synced = true;
    this.opts.log.debug({ resource: this.resource, namespace: this.opts.namespace, count: items.length, reason, resourceVersion: rv }, 'listed');
  }

  /** One watch from the last resourceVersion, until it ends, idles out, is due for a relist, or fails. */
  private async watchOnce(stop: AbortSignal, relistInMs: number, onOpen: () => void): Promise<{ ended: 'closed' | 'idle' | 'relist'; events: number }> {
    const { clock } = this.opts;
    const ac = new AbortController();
    const onStop = () => ac.abort(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    let cancelIdle = clock.setTimeout(() => ac.abort(new IdleTimeout()), this.opts.idleTimeoutMs);
    const resetIdle = () => {
      cancelIdle();
      cancelIdle = clock.setTimeout(() => ac.abort(new IdleTimeout()), this.opts.idleTimeoutMs);
    };
    const cancelRelist = Number.isFinite(relistInMs) ? clock.setTimeout(() => ac.abort(new RelistDue()), Math.max(0, relistInMs)) : () => undefined;
    const [lo, hi] = this.opts.watchTimeoutSeconds;
    let events = 0;
    try {
      await this.opts.client.watch<T>(
        this.opts.type,
        {
          namespace: this.opts.namespace,
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: Math.round(between(lo, hi, this.opts.random)),
          signal: ac.signal,
          onOpen: () => {
            this.contact();
            resetIdle();
            onOpen();
          },
        },
        (e) => {
          if (ac.signal.aborted) return;
          this.contact();
          resetIdle();
          events++;
          if (e.type === 'ERROR') {
            const status = e.object as { code?: number; reason?: string; message?: string };
            ac.abort(new ApiError(status.code ?? 500, status.reason ?? '', `watch ${this.resource}: ${status.code ?? '?'} ${status.reason ?? ''}: ${status.message ?? ''}`, 'WATCH'));
            return;
          }
          const rv = e.object.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (e.type === 'BOOKMARK') return;
          this.sink.apply(e.type, e.object);
        },
      );
      return { ended: 'closed', events };
    } catch (e) {
      const reason: unknown = ac.signal.aborted ? ac.signal.reason : e;
      if (reason instanceof IdleTimeout) return { ended: 'idle', events };
      if (reason instanceof RelistDue) return { ended: 'relist', events };
      throw reason;
    } finally {
      cancelIdle();
      cancelRelist();
      stop.removeEventListener('abort', onStop);
    }
  }
}
