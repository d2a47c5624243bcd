/**
 * The change a manifest makes to an existing object's spec, field by field (both sides defaulted, so a default
 * spelled out in the file is no change). Objects are compared key by key; lists and scalars whole. Pure.
 */
import { deepEqual } from '../runtime/index.js';

export interface FieldChange {
  /** `spec.azure.tags.environment` */
  path: string;
  op: 'add' | 'remove' | 'change';
  from?: unknown;
  to?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function specDiff(before: unknown, after: unknown, path = 'spec'): FieldChange[] {
  if (deepEqual(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      const p = `${path}.${k}`;
      if (!Object.hasOwn(after, k)) return [{ path: p, op: 'remove' as const, from: before[k] }];
      if (!Object.hasOwn(before, k)) return [{ path: p, op: 'add' as const, to: after[k] }];
      return specDiff(before[k], after[k], p);
    });
  }
  return [{ path, op: 'change', from: before, to: after }];
}

/** One line per change, `~ path: from -> to` (values as JSON). */
export function formatDiff(changes: readonly FieldChange[]): string[] {
  const v = (x: unknown): string => JSON.stringify(x);
  return changes.map((c) => (c.op === 'add' ? `+ ${c.path}: ${v(c.to)}` : c.op === 'remove' ? `- ${c.path}: ${v(c.from)}` : `~ ${c.path}: ${v(c.from)} -> ${v(c.to)}`));
}
