/** Predicates over a snapshot that scenarios wait for. */
import { conditionOf, isReady, type HsmKind, type HsmObject } from '../../cli/resources.js';
import type { AppliedResource, Snapshot } from './types.js';

/** The object of that kind and name, in whichever of the sandbox's namespaces it lives (given one, only there). */
export function find(s: Snapshot, kind: HsmKind, name: string, namespace?: string): HsmObject | undefined {
  return s.all.find((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
}

/** Every applied resource exists and is Ready for its current generation. */
export function allReady(s: Snapshot, applied: readonly AppliedResource[]): boolean {
  return applied.every(({ kind, namespace, name }) => {
    const o = find(s, kind, name, namespace);
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

export function readyCount(s: Snapshot, applied: readonly AppliedResource[]): number {
  return applied.filter(({ kind, namespace, name }) => {
    const o = find(s, kind, name, namespace);
    return o !== undefined && isReady(o);
  }).length;
}
