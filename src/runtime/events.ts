/**
 * An `events.k8s.io/v1` Event recorder that cannot cause an event storm:
 * - the same (object, type, reason, action, note) within `seriesWindowMs` becomes a series: the existing Event's
 *   `series.count` / `lastObservedTime` are patched (at most once per `seriesFlushMs`) instead of new Events;
 * - new Events per object pass a token bucket (burst 25, one more every 5 min, like client-go's spam filter);
 * - notes are scrubbed of credentials and capped at 1 kB; writes are fire-and-forget (failures are logged and
 *   counted, never thrown into a reconcile).
 */
import { realClock, type CancelTimer, type Clock } from './clock.js';
import type { KubeClient } from './client.js';
import { errorMessage, isNotFound } from './errors.js';
import { redactText, silentLogger, type Logger } from './log.js';
import type { RuntimeMetrics } from './metrics.js';
import { CoreTypes, type KubeObject } from './resource.js';

export type EventType = 'Normal' | 'Warning';

export const DEFAULT_REPORTING_CONTROLLER = 'dedicatedhsm.io/hsm-operator';

export interface EventRecorderOptions {
  client: KubeClient;
  /** Who reports: `reportingInstance` (e.g. the pod name). */
  instance: string;
  reportingController?: string;
  /** Identical events within this window form one series. Default 10 min. */
  seriesWindowMs?: number;
  /** A series is written at most this often. Default 30 s. */
  seriesFlushMs?: number;
  /** New Events per object: burst, then one more per `perObjectRefillMs`. Defaults 25 and 5 min. */
  perObjectBurst?: number;
  perObjectRefillMs?: number;
  /** Bounds the memory of series and buckets. Default 4096 each. */
  maxTracked?: number;
  clock?: Clock;
  log?: Logger;
  metrics?: RuntimeMetrics;
}

export interface EventObject extends KubeObject {
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note: string;
  type: EventType;
  regarding: { apiVersion?: string; kind?: string; name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  series?: { count: number; lastObservedTime: string };
}

interface Series {
  name: string;
  namespace: string;
  count: number;
  writtenCount: number;
  lastSeenAt: number;
  lastWriteAt: number;
  flushTimer: CancelTimer | undefined;
  /** Serialises the writes of one series (create, then patches). */
  chain: Promise<void>;
  dead: boolean;
}

/** metav1.MicroTime: `2024-05-01T12:00:00.123000Z`. */
export function toMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

const MAX_NOTE = 1024;

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly controller: string;
  private readonly instance: string;
  private readonly window: number;
  private readonly flushMs: number;
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxTracked: number;
  private readonly metrics: RuntimeMetrics | undefined;
  private readonly series = new Map<string, Series>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly inflight = new Set<Promise<void>>();
  private seq = 0;

  constructor(options: EventRecorderOptions) {
    this.client = options.client;
    this.clock = options.clock ?? realClock;
    this.log = options.log ?? silentLogger;
    this.controller = options.reportingController ?? DEFAULT_REPORTING_CONTROLLER;
    this.instance = options.instance;
    this.window = options.seriesWindowMs ?? 10 * 60_000;
    this.flushMs = options.seriesFlushMs ?? 30_000;
    this.burst = options.perObjectBurst ?? 25;
    this.refillMs = options.perObjectRefillMs ?? 5 * 60_000;
    this.maxTracked = options.maxTracked ?? 4096;
    this.metrics = options.metrics;
  }

  normal(obj: KubeObject, reason: string, note: string, action?: string): void {
    this.event(obj, 'Normal', reason, note, action);
  }

  warning(obj: KubeObject, reason: string, note: string, action?: string): void {
    this.event(obj, 'Warning', reason, note, action);
  }

  /** Records an Event about `obj`. Never throws and never waits: the write happens in the background. */
  event(obj: KubeObject, type: EventType, reason: string, note: string, action = 'Reconcile'): void {
    const now = this.clock.now();
    let text = redactText(note);
    if (text.length > MAX_NOTE) text = `${text.slice(0, MAX_NOTE - 1)}…`;
    const objectId = obj.metadata?.uid ?? `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    const key = JSON.stringify([objectId, type, reason, action, text]);
    const existing = this.series.get(key);
    if (existing && !existing.dead && now - existing.lastSeenAt <= this.window) {
      existing.count++;
      existing.lastSeenAt = now;
      this.scheduleFlush(existing, now);
      return;
    }
    if (!this.takeToken(objectId, now)) {
      this.metrics?.eventsDropped.inc({ reason: 'rate_limited' });
      this.log.debug({ reason, object: obj.metadata?.name }, 'event dropped by the per-object rate limit');
      return;
    }
    const namespace = obj.metadata?.namespace || 'default';
    const s: Series = {
      name: `${(obj.metadata?.name ?? 'object').slice(0, 200)}.${now.toString(16)}${(this.seq++ % 4096).toString(16).padStart(3, '0')}`,
      namespace,
      count: 1,
      writtenCount: 1,
      lastSeenAt: now,
      lastWriteAt: now,
      flushTimer: undefined,
      chain: Promise.resolve(),
      dead: false,
    };
    this.track(key, s);
    const body: EventObject = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: s.name, namespace },
      eventTime: toMicroTime(now),
      reportingController: this.controller,
      reportingInstance: this.instance,
      action: action.slice(0, 128),
      reason: reason.slice(0, 128),
      note: text,
      type,
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata?.name,
        namespace: obj.metadata?.namespace,
        uid: obj.metadata?.uid,
        resourceVersion: obj.metadata?.resourceVersion,
      },
    };
    this.enqueue(s, async () => {
      try {
        await this.client.create(CoreTypes.events, body);
      } catch (e) {
        s.dead = true; // the next occurrence starts a new Event
        this.metrics?.eventsDropped.inc({ reason: 'api_error' });
        this.log.warn({ reason, err: errorMessage(e) }, 'could not write Event');
      }
    });
  }

  /** Writes pending series updates now and waits for every write in flight. */
  async flush(): Promise<void> {
    for (const s of this.series.values()) {
      if (s.flushTimer) {
        s.flushTimer();
        s.flushTimer = undefined;
        this.writeSeries(s);
      }
    }
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  private scheduleFlush(s: Series, now: number): void {
    if (s.flushTimer) return;
    const due = Math.max(0, s.lastWriteAt + this.flushMs - now);
    s.flushTimer = this.clock.setTimeout(() => {
      s.flushTimer = undefined;
      this.writeSeries(s);
    }, due);
  }

  private writeSeries(s: Series): void {
    s.lastWriteAt = this.clock.now(); // counted from the decision, so later repeats wait a full period
    this.enqueue(s, async () => {
      if (s.dead || s.count === s.writtenCount) return;
      const count = s.count;
      try {
        await this.client.patch(CoreTypes.events, s.namespace, s.name, { series: { count, lastObservedTime: toMicroTime(s.lastSeenAt) } }, 'merge');
        s.writtenCount = count;
      } catch (e) {
        s.dead = true; // expired (TTL) or failed: the next occurrence starts a new Event
        if (!isNotFound(e)) {
          this.metrics?.eventsDropped.inc({ reason: 'api_error' });
          this.log.warn({ err: errorMessage(e) }, 'could not update Event series');
        }
      }
    });
  }

  private enqueue(s: Series, op: () => Promise<void>): void {
    const p = s.chain.then(op);
    s.chain = p;
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private track(key: string, s: Series): void {
    this.series.delete(key);
    if (this.series.size >= this.maxTracked) {
      const oldest = this.series.keys().next().value;
      if (oldest !== undefined) {
        this.series.get(oldest)?.flushTimer?.();
        this.series.delete(oldest);
      }
    }
    this.series.set(key, s);
  }

  private takeToken(objectId: string, now: number): boolean {
    let b = this.buckets.get(objectId);
    if (!b) {
      if (this.buckets.size >= this.maxTracked) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.burst, at: now };
      this.buckets.set(objectId, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) / this.refillMs);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
