/** Predicates over a snapshot that scenarios wait for. */
import { conditionOf, isReady, type HsmKind, type HsmObject } from '../../cli/resources.js';
import type { Snapshot } from './types.js';

export function find(s: Snapshot, kind: HsmKind, name: string): HsmObject | undefined {
  return s.all.find((o) => o.kind === kind && o.metadata.name === name);
}

/** Every applied resource exists and is Ready for its current generation. */
export function allReady(s: Snapshot, applied: readonly { kind: HsmKind; name: string }[]): boolean {
  return applied.every(({ kind, name }) => {
    const o = find(s, kind, name);
    return o !== undefined && isReady(o);
  });
}

/** The object's condition `type` has `reason` (and status, when given). */
export function hasCondition(s: Snapshot, kind: HsmKind, name: string, type: string, reason: string, status?: string): boolean {
  const o = find(s, kind, name);
  const c = o && conditionOf(o, type);
  return c !== undefined && c.reason === reason && (status === undefined || c.status === status);
}

/** An Event with one of `reasons` was recorded for the object. */
export function sawEvent(s: Snapshot, kind: HsmKind, name: string, ...reasons: string[]): boolean {
  const seen = s.eventReasons.get(`${kind}/${name}`);
  return seen !== undefined && reasons.some((r) => seen.has(r));
}

export function readyCount(s: Snapshot, applied: readonly { kind: HsmKind; name: string }[]): number {
  return applied.filter(({ kind, name }) => {
    const o = find(s, kind, name);
    return o !== undefined && isReady(o);
  }).length;
}
