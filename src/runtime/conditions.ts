/**
 * metav1.Condition helpers. Pure: they take and return lists. `lastTransitionTime` changes only when a
 * condition's status does, so re-asserting the same state never churns the object (and never costs a write).
 */
import { redactText } from './log.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  /** CamelCase, as the API requires (`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`). */
  reason: string;
  message?: string;
}

const MAX_MESSAGE = 32_768;

/** metav1.Time has second precision: `2024-05-01T12:00:00Z`. */
export function toKubeTime(t: Date | number | string): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isConditionTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(list, type)?.status === 'True';
}

/**
 * Sets one condition in a copy of `list`: new conditions are appended, existing ones updated in place.
 * `lastTransitionTime` is kept unless the status changed. Messages are scrubbed of credentials and capped.
 */
export function setCondition(
  list: readonly Condition[] | undefined,
  input: ConditionInput,
  generation: number | undefined,
  now: Date | number | string,
): Condition[] {
  const existing = getCondition(list, input.type);
  let message = redactText(input.message ?? '');
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message,
    lastTransitionTime: existing && existing.status === input.status ? existing.lastTransitionTime : toKubeTime(now),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  if (!existing) return [...(list ?? []), next];
  return (list ?? []).map((c) => (c.type === input.type ? next : c));
}

export function removeCondition(list: readonly Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((c) => c.type !== type);
}

/** Same conditions, in any order, ignoring only `lastTransitionTime`. */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const d = getCondition(y, c.type);
    return d !== undefined && d.status === c.status && d.reason === c.reason && d.message === c.message && d.observedGeneration === c.observedGeneration;
  });
}
