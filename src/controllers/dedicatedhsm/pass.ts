/**
 * What one reconcile pass decided, collected before the single status write at its end: the conditions it
 * computed, the status fields it sets or clears, a Ready override, and when to look again.
 */
import type { ConditionLike, DedicatedHsmStatus } from '../../api/index.js';
import type { ReportOptions } from '../shared/index.js';

export type HsmStatus = DedicatedHsmStatus;
export type StatusField = Exclude<keyof HsmStatus, 'conditions' | 'observedGeneration'>;

export class Pass {
  readonly conditions: ConditionLike[] = [];
  readonly set: Partial<HsmStatus> = {};
  readonly drop = new Set<StatusField>();
  /** Reasons this pass already announced with an Event (the Ready transition Event is then not repeated). */
  readonly announced = new Set<string>();
  /** The conditions of a failure recorded in this pass (re-asserted after preflight, which cannot see it). */
  failure: ConditionLike[] | undefined;
  override: ReportOptions['override'];
  happy: ReportOptions['happy'];
  requeueAfter: number | undefined;

  constructor(readonly now: Date) {}

  /** Later conditions of the same type win. */
  condition(...c: ConditionLike[]): void {
    this.conditions.push(...c);
  }

  put<K extends StatusField>(k: K, v: HsmStatus[K]): void {
    this.set[k] = v;
    this.drop.delete(k);
  }

  clear(...keys: StatusField[]): void {
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

  get nowIso(): string {
    return this.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}
