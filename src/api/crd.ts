/**
 * Schema -> CustomResourceDefinition. The TypeBox schemas are serialised into structural OpenAPI v3: fields with a
 * default are never listed as required (the API server defaults before it validates, and kubectl explain should not
 * call them required), keys come out in a stable, readable order, and anything non-structural is refused.
 */
import type { TSchema } from '@sinclair/typebox';
import { CATEGORY, GROUP, VERSION } from './group.js';
import type { CelRule } from './common.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

/** Everything the generator needs to know about one kind. */
export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  /** What the kind is for, shown by `kubectl explain <kind>`. */
  description: string;
  spec: TSchema;
  /** Absent for a kind the operator never reports on (a statement of policy, like HsmGrant): no status subresource. */
  status?: TSchema;
  /** CEL rules on the object root: the only place that can see metadata.name. */
  rootRules: CelRule[];
  printerColumns: PrinterColumn[];
}

const KEY_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
];

/** Keywords a structural schema may not use (or that this project never wants). */
const FORBIDDEN = ['anyOf', 'oneOf', 'allOf', 'not', 'patternProperties', '$ref', '$id', 'const', 'x-kubernetes-preserve-unknown-fields'];

function orderKeys(obj: JsonObject): JsonObject {
  const keys = Object.keys(obj).sort((a, b) => {
    const ia = KEY_ORDER.indexOf(a);
    const ib = KEY_ORDER.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const out: JsonObject = {};
  for (const k of keys) out[k] = obj[k] as JsonValue;
  return out;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural JSON schema from a TypeBox schema; throws on non-structural constructs so they never reach a CRD. */
export function structural(schema: TSchema, path = '<root>'): JsonObject {
  // JSON round-trip drops TypeBox's symbol-keyed metadata.
  const plain = JSON.parse(JSON.stringify(schema)) as JsonObject;
  return normalise(plain, path);
}

function normalise(node: JsonObject, path: string): JsonObject {
  for (const k of FORBIDDEN) if (k in node) throw new Error(`${path}: '${k}' is not allowed in a structural CRD schema`);
  if (typeof node.type !== 'string') throw new Error(`${path}: every schema node needs a type`);
  const out: JsonObject = { ...node };
  const props = node.properties;
  if (isObject(props)) {
    const next: JsonObject = {};
    for (const [name, sub] of Object.entries(props)) {
      if (!isObject(sub)) throw new Error(`${path}.${name}: not a schema`);
      next[name] = normalise(sub, `${path}.${name}`);
    }
    out.properties = next;
    const required = Array.isArray(node.required) ? node.required.filter((r): r is string => typeof r === 'string') : [];
    // Defaulted fields are filled before validation: listing them as required would only mislead readers.
    const stillRequired = required.filter((r) => !isObject(next[r]) || !('default' in (next[r] as JsonObject)));
    if (stillRequired.length) out.required = stillRequired;
    else delete out.required;
  }
  if (isObject(node.items)) out.items = normalise(node.items, `${path}[]`);
  if (isObject(node.additionalProperties)) out.additionalProperties = normalise(node.additionalProperties, `${path}{}`);
  return orderKeys(out);
}

/** Paths of properties (under `root`) that lack a non-empty description. */
export function missingDescriptions(schema: JsonValue | undefined, path = ''): string[] {
  if (!isObject(schema)) return [];
  const out: string[] = [];
  const props = schema.properties;
  if (isObject(props)) {
    for (const [name, sub] of Object.entries(props)) {
      const p = path ? `${path}.${name}` : name;
      if (!isObject(sub) || typeof sub.description !== 'string' || sub.description.trim() === '') out.push(p);
      out.push(...missingDescriptions(sub, p));
    }
  }
  if (isObject(schema.items)) out.push(...missingDescriptions(schema.items, `${path}[]`));
  if (isObject(schema.additionalProperties)) out.push(...missingDescriptions(schema.additionalProperties, `${path}{}`));
  return out;
}

/** The openAPIV3Schema of a kind: apiVersion, kind, metadata, spec, status, and the root CEL rules. */
export function rootSchema(def: KindDefinition): JsonObject {
  const root: JsonObject = {
    description: def.description,
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: {
        description: 'APIVersion defines the versioned schema of this representation of an object.',
        type: 'string',
      },
      kind: { description: 'Kind is a string value representing the REST resource this object represents.', type: 'string' },
      // The API server allows nothing but the type here.
      metadata: { type: 'object' },
      spec: structural(def.spec, `${def.kind}.spec`),
      ...(def.status ? { status: structural(def.status, `${def.kind}.status`) } : {}),
    },
  };
  if (def.rootRules.length) root['x-kubernetes-validations'] = def.rootRules.map((r) => ({ ...r }));
  return orderKeys(root);
}

export function crdName(def: KindDefinition): string {
  return `${def.plural}.${GROUP}`;
}

/** The CustomResourceDefinition object (wire format, ready for YAML). */
export function crdFor(def: KindDefinition): JsonObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: crdName(def),
      labels: { 'app.kubernetes.io/name': 'hsm-operator', 'app.kubernetes.io/part-of': 'hsm-operator' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          ...(def.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: rootSchema(def) },
        },
      ],
    },
  };
}
