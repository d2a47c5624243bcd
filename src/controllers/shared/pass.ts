/**
 * What one reconcile pass decided, collected for the skeleton's single report at its end (skeleton.ts): the
 * conditions it computed, the status fields it sets or clears, a Ready override or happy message, the Events to
 * send, and when to look again. Every kind fills the same collector, so every kind reports the same way.
 */
import type { ConditionLike, Verdict } from '../../api/index.js';
import { toKubeTime } from '../../runtime/index.js';
import type { ReportOptions } from './report.js';

export interface PendingEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
  /** The Event's action (default `Reconcile`; deletion steps say `Delete`). */
  action?: string;
}

/** The kind's own status fields besides `conditions` and `observedGeneration`. */
export type StatusFields<S> = Exclude<keyof S, 'conditions' | 'observedGeneration'>;

/**
 * A kind that shapes its whole status itself (the binding's per-target entries) returns it with its Ready verdict;
 * the skeleton still writes it, records the write, sends the Ready Event and flushes the pass's Events.
 */
export type Compose<S> = (previous: S) => { status: S; ready: Verdict };

export class Pass<S extends object> {
  readonly conditions: ConditionLike[] = [];
  readonly set: Partial<S> = {};
  readonly drop = new Set<StatusFields<S>>();
  readonly events: PendingEvent[] = [];
  /** Reasons this pass already announced with an Event (the Ready transition Event is then not repeated). */
  readonly announced = new Set<string>();
  override: ReportOptions['override'];
  happy: ReportOptions['happy'];
  compose: Compose<S> | undefined;
  requeueAfter: number | undefined;

  constructor(readonly now: Date) {}

  /** Later conditions of the same type win. */
  condition(...c: ConditionLike[]): void {
    this.conditions.push(...c);
  }

  put<K extends StatusFields<S>>(k: K, v: S[K]): void {
    this.set[k] = v;
    this.drop.delete(k);
  }

  clear(...keys: StatusFields<S>[]): void {
    for (const k of keys) {
      delete this.set[k];
      this.drop.add(k);
    }
  }

  /** Look again after `ms` (the earliest of all asks wins). */
  after(ms: number): void {
    const v = Math.max(1, Math.round(ms));
    this.requeueAfter = this.requeueAfter === undefined ? v : Math.min(this.requeueAfter, v);
  }

  /** An Event sent with the pass's report; the Ready transition Event of the same reason is then not repeated. */
  event(type: PendingEvent['type'], reason: string, note: string, action?: string): void {
    this.announced.add(reason);
    this.events.push({ type, reason, note, ...(action ? { action } : {}) });
  }

  get nowIso(): string {
    return toKubeTime(this.now);
  }
}
