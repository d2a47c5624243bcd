/**
 * Semantic equality of JSON values, the basis of "write only when something changed": key order and
 * undefined-valued keys don't matter, and chosen keys (e.g. `lastTransitionTime`) can be ignored at any depth.
 */

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

export function deepEqual(a: unknown, b: unknown, ignoreKeys: ReadonlySet<string> = new Set()): boolean {
  if (a === b) return true;
  if (a instanceof Date || b instanceof Date) {
    const ta = a instanceof Date ? a.toISOString() : a;
    const tb = b instanceof Date ? b.toISOString() : b;
    return ta === tb;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i], ignoreKeys));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      if (ignoreKeys.has(k)) continue;
      if (!deepEqual(a[k], b[k], ignoreKeys)) return false;
    }
    return true;
  }
  return false;
}

/** An RFC 7386 merge patch that turns `from` into `to` (removed keys become null). */
export function mergePatchBetween(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return to === undefined ? null : to;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (from[k] !== undefined && to[k] === undefined) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    if (!deepEqual(from[k], v)) out[k] = mergePatchBetween(from[k], v);
  }
  return out;
}
