/**
 * What the API server will do with a manifest before the operator sees it, read from the same schemas the CRDs are
 * generated from (src/api): the defaults it fills in, the schema errors it refuses (types, patterns, enums, bounds),
 * and the transition rules (CEL with `oldSelf`) that refuse an immutable change. Pure.
 *
 * Only the three shapes of transition rule src/api writes are evaluated: `self == oldSelf` on a field, `has(self.f)
 * == has(oldSelf.f)` on an object, and a defaulted name at the root (`(has(self.a) ? self.a : self.b) == (...)`).
 * Any other rule with `oldSelf` is listed as unchecked rather than guessed (a unit test keeps that list empty).
 * CEL rules without `oldSelf` (exactly one of stampId or zones, ...) are left to the API server at apply.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { CelRule, KindDefinition } from '../api/index.js';
import { deepEqual } from '../runtime/index.js';

export interface SchemaError {
  path: string;
  message: string;
}

export interface ImmutableViolation {
  /** The field, e.g. `spec.azure.stampId`. */
  path: string;
  /** The API server's message for it (the rule's). */
  message: string;
}

export interface ImmutabilityCheck {
  violations: ImmutableViolation[];
  /** Transition rules plan cannot evaluate (none today). */
  unchecked: string[];
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function at(v: Json, path: readonly string[]): { has: boolean; value: Json } {
  let cur: Json = v;
  for (const p of path) {
    if (!isObject(cur) || !Object.hasOwn(cur, p)) return { has: false, value: undefined };
    cur = cur[p];
  }
  return { has: true, value: cur };
}

/** The spec as the API server stores it: schema defaults filled in (a copy). */
export function withDefaults<T>(def: KindDefinition, spec: T): T {
  return Value.Default(def.spec, structuredClone(spec)) as T;
}

/** What the structural schema refuses (after defaults), with paths under `spec`. */
export function schemaErrors(def: KindDefinition, spec: unknown): SchemaError[] {
  return [...Value.Errors(def.spec, spec)].map((e) => ({ path: `spec${e.path.replaceAll('/', '.')}`, message: e.message }));
}

const FIELD_IMMUTABLE = /^self\s*==\s*oldSelf$/;
const PRESENCE = /^has\(self\.([A-Za-z0-9_]+)\)\s*==\s*has\(oldSelf\.\1\)$/;
const DEFAULTED = /^\(has\(self\.([\w.]+)\)\s*\?\s*self\.\1\s*:\s*self\.([\w.]+)\)\s*==\s*\(has\(oldSelf\.\1\)\s*\?\s*oldSelf\.\1\s*:\s*oldSelf\.\2\)$/;

interface RuleAt {
  /** Path of the node carrying the rule, from the object's root. */
  path: string[];
  rule: CelRule;
}

/** Every transition rule of a kind, with the node it sits on. */
export function transitionRules(def: KindDefinition): RuleAt[] {
  const out: RuleAt[] = def.rootRules.filter((r) => r.rule.includes('oldSelf')).map((rule) => ({ path: [], rule }));
  const walk = (node: TSchema, path: string[]): void => {
    const rules = (node as { 'x-kubernetes-validations'?: CelRule[] })['x-kubernetes-validations'] ?? [];
    for (const rule of rules) if (rule.rule.includes('oldSelf')) out.push({ path, rule });
    const props = (node as { properties?: Record<string, TSchema> }).properties;
    if (props) for (const [k, v] of Object.entries(props)) walk(v, [...path, k]);
    const items = (node as { items?: TSchema }).items;
    if (items && typeof items === 'object') walk(items, [...path, '[]']);
  };
  walk(def.spec, ['spec']);
  return out;
}

/** The immutable changes the API server refuses between the stored object and the one applied. */
export function immutableChanges(def: KindDefinition, before: Json, after: Json): ImmutabilityCheck {
  const violations: ImmutableViolation[] = [];
  const unchecked: string[] = [];
  for (const { path, rule } of transitionRules(def)) {
    const message = rule.message ?? rule.rule;
    const where = [...path, ...(rule.fieldPath ? rule.fieldPath.replace(/^\./, '').split('.') : [])].join('.');
    if (path.includes('[]')) {
      unchecked.push(`${path.join('.')}: ${rule.rule}`);
      continue;
    }
    const field = FIELD_IMMUTABLE.test(rule.rule);
    const presence = PRESENCE.exec(rule.rule);
    const defaulted = DEFAULTED.exec(rule.rule);
    if (!field && !presence && !defaulted) {
      unchecked.push(`${where || '(root)'}: ${rule.rule}`);
      continue;
    }
    const o = at(before, path);
    const n = at(after, path);
    // A transition rule runs only where the node exists on both sides.
    if (!o.has || !n.has) continue;
    let changed: boolean;
    if (presence) changed = at(o.value, [presence[1] ?? '']).has !== at(n.value, [presence[1] ?? '']).has;
    else if (defaulted) {
      const pick = (v: Json): Json => {
        const a = at(v, (defaulted[1] ?? '').split('.'));
        return a.has ? a.value : at(v, (defaulted[2] ?? '').split('.')).value;
      };
      changed = !deepEqual(pick(o.value), pick(n.value));
    } else changed = !deepEqual(o.value, n.value);
    if (changed) violations.push({ path: where || path.join('.'), message });
  }
  return { violations, unchecked };
}
